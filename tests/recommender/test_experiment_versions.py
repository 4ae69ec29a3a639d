"""A variant served by another model version than the active one, on SQLite and PostgreSQL: its lists are that
version's (its model_version, its items), the control's the active version's, and an interleaved list merges
the two."""

from tests.recommender.test_routes import client, seed, train  # noqa: F401 (the fixture)


def _list(http, user, k=5):
    r = http.get(f"/v1/users/{user}/recommendations", params={"k": k})
    assert r.status_code == 200, r.text
    return r.json()


def test_a_variant_serves_its_own_model_version(client, packaged_encoder):  # noqa: F811
    seed(client)
    old = train(client, packaged_encoder, factors=4, epochs=5)
    before = {f"u{u}": [i["item_id"] for i in _list(client, f"u{u}")["items"]] for u in range(30)}
    new = train(client, packaged_encoder)
    after = {f"u{u}": [i["item_id"] for i in _list(client, f"u{u}")["items"]] for u in range(30)}
    assert old != new and before != after
    r = client.put("/v1/experiments/versions", json={
        "method": "ab", "routes": ["recommendations"],
        "variants": [{"name": "current"}, {"name": "previous", "model_version": old}]})
    assert r.status_code == 200, r.text
    seen = set()
    for u in range(30):
        answer = _list(client, f"u{u}")
        seen.add(answer["variant"])
        expected = (new, after) if answer["variant"] == "current" else (old, before)
        assert answer["model_version"] == expected[0]
        assert [i["item_id"] for i in answer["items"]] == expected[1][f"u{u}"]
    assert seen == {"current", "previous"}
    client.post("/v1/experiments/versions/stop")
    r = client.put("/v1/experiments/mixed", json={
        "method": "interleaving", "routes": ["recommendations"],
        "variants": [{"name": "current"}, {"name": "previous", "model_version": old}]})
    assert r.status_code == 200, r.text
    for u in range(5):
        answer = _list(client, f"u{u}")
        assert answer["variant"] == "interleaved"
        assert {i["item_id"] for i in answer["items"]} <= set(before[f"u{u}"]) | set(after[f"u{u}"])
