from datetime import datetime

from tests.utils import item, snapshot


def test_put_then_get_item(client):
    body = {"title": "Trail shoes", "description": "grippy", "category": "shoes", "price": 89.9,
            "attributes": {"brand": "Stride", "waterproof": True, "weight_g": 280}}
    r = client.put("/v1/items/sku-1", json=body)
    assert r.status_code == 200, r.text
    got = client.get("/v1/items/sku-1").json()
    assert {k: got[k] for k in body} == body
    assert got["available"] is True and got["embedded"] is False
    assert datetime.fromisoformat(got["created_at"]).utcoffset() is not None


def test_put_same_item_twice_changes_nothing(client, sessions):
    client.put("/v1/items/sku-1", json={"title": "A", "attributes": {"x": 1}})
    before = snapshot(sessions)
    client.put("/v1/items/sku-1", json={"title": "A", "attributes": {"x": 1}})
    assert snapshot(sessions) == before
    client.put("/v1/items/sku-1", json={"title": "B", "attributes": {"x": 1}})
    assert client.get("/v1/items/sku-1").json()["title"] == "B"


def test_batch_upsert_is_idempotent(client, sessions):
    batch = {"items": [item(n) for n in range(50)]}
    assert client.post("/v1/items/batch", json=batch).json() == {"upserted": 50}
    before = snapshot(sessions)
    assert client.post("/v1/items/batch", json=batch).json() == {"upserted": 50}
    assert snapshot(sessions) == before
    assert len(before["items"]) == 50


def test_batch_with_repeated_id_keeps_the_last(client):
    batch = {"items": [item(1, title="first"), item(1, title="second")]}
    assert client.post("/v1/items/batch", json=batch).json() == {"upserted": 1}
    assert client.get("/v1/items/sku-1").json()["title"] == "second"


def test_batch_is_all_or_nothing(client, sessions):
    items = [item(n) for n in range(100)]
    items[77]["price"] = -3
    r = client.post("/v1/items/batch", json={"items": items})
    assert r.status_code == 422
    assert "items[77].price" in r.json()["detail"]
    assert snapshot(sessions)["items"] == []


def test_batch_over_limit_is_refused_whole(client, sessions):
    r = client.post("/v1/items/batch", json={"items": [item(n) for n in range(10_001)]})
    assert r.status_code == 422
    assert "items" in r.json()["detail"]
    assert snapshot(sessions)["items"] == []


def test_delete_item_hides_it_but_keeps_history(client, sessions):
    client.put("/v1/items/sku-1", json={"title": "A"})
    client.post("/v1/interactions", json={"interactions": [{"user_id": "u1", "item_id": "sku-1", "type": "view"}]})
    assert client.delete("/v1/items/sku-1").status_code == 204
    assert client.get("/v1/items/sku-1").status_code == 404
    assert client.delete("/v1/items/sku-1").status_code == 404
    assert len(snapshot(sessions)["interactions"]) == 1
    # The catalog may bring it back.
    assert client.put("/v1/items/sku-1", json={"title": "A"}).status_code == 200
    assert client.get("/v1/items/sku-1").status_code == 200


def test_unknown_item_is_404_naming_it(client):
    r = client.get("/v1/items/nope")
    assert r.status_code == 404 and "nope" in r.json()["detail"]


def test_bad_item_fields_name_the_field(client):
    cases = [
        ({"title": ""}, "title"),
        ({}, "title"),
        ({"title": "x", "price": -1}, "price"),
        ({"title": "x", "attributes": {"nested": {"a": 1}}}, "attributes"),
        ({"title": "x" * 20_001}, "title"),
        ({"title": "nul\x00char"}, "title"),
        ({"title": "x", "available": "perhaps"}, "available"),
    ]
    for body, field in cases:
        r = client.put("/v1/items/sku-1", json=body)
        assert r.status_code == 422, body
        assert field in r.json()["detail"], r.json()


def test_non_finite_numbers_are_refused(client):
    r = client.put("/v1/items/sku-1", content=b'{"title": "x", "price": NaN}',
                   headers={"content-type": "application/json"})
    assert r.status_code == 422
    r = client.put("/v1/items/sku-1", content=b'{"title": "x", "attributes": {"w": Infinity}}',
                   headers={"content-type": "application/json"})
    assert r.status_code == 422 and "attributes" in r.text


def test_id_rules(client):
    ok = ["a", "A.b_c:d@e-f", "9" * 128]
    bad = ["-leading", ".dot", "has space", "x" * 129, "semi;colon", "ünï"]
    for item_id in ok:
        assert client.put(f"/v1/items/{item_id}", json={"title": "t"}).status_code == 200, item_id
    for item_id in bad:
        r = client.put(f"/v1/items/{item_id}", json={"title": "t"})
        assert r.status_code == 422, item_id
        assert "item_id" in r.json()["detail"]
    r = client.post("/v1/items/batch", json={"items": [item(1, item_id="bad id")]})
    assert r.status_code == 422 and "items[0].item_id" in r.json()["detail"]
