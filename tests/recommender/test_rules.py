"""Merchandising rules through the real app, on SQLite and PostgreSQL: each action, their order when several
act, time windows, rules that match nothing, rules that never rise above filters or seen items, read-your-writes
through the answer cache, and the 422s that name the field. No model is trained: a visitor's list is the
popular one (i0 most popular, then i1, ...), a known order for the rules to move."""

from datetime import UTC, datetime, timedelta

import pytest

from app.recommender.rules import Rule
from tests.conftest import READ_KEY, open_client

N = 20


@pytest.fixture
def shop(settings):
    """i0..i19, categories c0 (even) and c1 (odd), brand Z on i11 and i15; i_n has N - n events."""
    with open_client(settings.model_copy(update={"embedded_worker": False, "refresh_seconds": 3600})) as c:
        c.post("/v1/items/batch", json={"items": [
            {"item_id": f"i{n}", "title": f"Item {n}", "category": f"c{n % 2}",
             "attributes": {"brand": "Z" if n in (11, 15) else "A"}} for n in range(N)]})
        c.post("/v1/interactions", json={"interactions": [
            {"user_id": f"u{m}", "item_id": f"i{n}", "type": "view"} for n in range(N) for m in range(N - n)]})
        c.app.state.recommender.refresh()  # popularity is read by the refresh
        yield c


def listed(client, user="nobody", **params):
    r = client.get(f"/v1/users/{user}/recommendations", params={"k": 5, **params}, headers={"X-API-Key": READ_KEY})
    assert r.status_code == 200, r.text
    body = r.json()
    return [i["item_id"] for i in body["items"]], body


def put(client, rule_id, **rule):
    r = client.put(f"/v1/rules/{rule_id}", json=rule)
    assert r.status_code in (200, 201), r.text
    return r


def because(body):
    return {i["item_id"]: i.get("because") for i in body["items"] if i.get("because")}


def test_boost_and_bury_move_items_by_their_factor(shop):
    assert listed(shop)[0] == ["i0", "i1", "i2", "i3", "i4"]
    put(shop, "boost-8", action="boost", items={"item_ids": ["i8"]}, factor=4)  # rank 9 -> standing 4/9
    ids, body = listed(shop)
    assert ids == ["i0", "i1", "i8", "i2", "i3"] and body["rules"] == ["boost-8"]
    assert because(body) == {}  # a boost reorders, it places nothing
    put(shop, "bury-c0", action="bury", items={"category": "c0"}, factor=0.1)
    ids, body = listed(shop)
    # i0's standing 1 · 0.1 ties i9's (rank 10): the scored order keeps i0 first
    assert ids == ["i1", "i3", "i5", "i7", "i0"] and body["rules"] == ["boost-8", "bury-c0"]


def test_promote_fills_its_share_of_slots_with_the_best_matching_items(shop):
    r = put(shop, "brand-z", action="promote", items={"attributes": {"brand": "Z"}}, share=0.5)
    assert r.status_code == 201 and r.json()["share"] == 0.5 and r.json()["factor"] is None
    ids, body = listed(shop)  # floor(0.5 * 5) = 2 slots
    assert ids == ["i11", "i15", "i0", "i1", "i2"] and body["rules"] == ["brand-z"]
    assert because(body) == {"i11": "promoted", "i15": "promoted"}
    assert listed(shop, k=1)[0] == ["i0"]  # floor(0.5 * 1) = 0 slots
    # An item written since: its attributes count in the next answer.
    assert shop.put("/v1/items/i3", json={"title": "Item 3", "category": "c1", "attributes": {"brand": "Z"}}
                    ).status_code == 200
    assert listed(shop)[0] == ["i3", "i11", "i0", "i1", "i2"]


def test_pin_puts_its_item_at_its_position(shop):
    put(shop, "pin-17", action="pin", items={"item_ids": ["i17"]}, position=2)
    ids, body = listed(shop)
    assert ids == ["i0", "i17", "i1", "i2", "i3"] and because(body) == {"i17": "pinned by the shop"}
    put(shop, "pin-19", action="pin", items={"item_ids": ["i19"]}, position=6)  # beyond k=5: does nothing
    assert listed(shop)[1]["rules"] == ["pin-17"]


def test_several_rules_act_in_a_fixed_order(shop):
    put(shop, "a-boost", action="boost", items={"item_ids": ["i9"]}, factor=20)  # i9 to the top
    put(shop, "b-promote", action="promote", items={"attributes": {"brand": "Z"}}, share=0.2)  # 1 slot: i11
    put(shop, "c-pin", action="pin", items={"item_ids": ["i18"]}, position=1)
    put(shop, "d-pin", action="pin", items={"item_ids": ["i19"]}, position=1)  # after c-pin at one position
    ids, body = listed(shop, k=6)
    assert ids == ["i18", "i19", "i11", "i9", "i0", "i1"]
    assert body["rules"] == ["a-boost", "b-promote", "c-pin", "d-pin"]
    assert because(body) == {"i18": "pinned by the shop", "i19": "pinned by the shop", "i11": "promoted"}
    again_ids, again = listed(shop, k=6)  # deterministic (and now from the answer cache); each answer's own id
    assert again_ids == ids and again["recommendation_id"] != body["recommendation_id"]
    assert {**again, "recommendation_id": None} == {**body, "recommendation_id": None}


def test_a_rule_acts_only_inside_its_times_and_on_its_requests(shop):
    now = datetime.now(UTC)
    put(shop, "later", action="pin", items={"item_ids": ["i17"]}, position=1,
        starts_at=(now + timedelta(hours=1)).isoformat())
    put(shop, "over", action="pin", items={"item_ids": ["i16"]}, position=1,
        starts_at=(now - timedelta(hours=2)).isoformat(), ends_at=(now - timedelta(hours=1)).isoformat())
    put(shop, "off", action="pin", items={"item_ids": ["i15"]}, position=1, active=False)
    put(shop, "similar-only", action="pin", items={"item_ids": ["i14"]}, position=1, when={"route": "similar"})
    put(shop, "c1-lists", action="pin", items={"item_ids": ["i13"]}, position=1, when={"category": "c1"})
    put(shop, "segment-3", action="pin", items={"item_ids": ["i12"]}, position=1, when={"user_segment": 3})
    ids, body = listed(shop)
    assert ids == ["i0", "i1", "i2", "i3", "i4"] and "rules" not in body
    assert listed(shop, category="c1")[0] == ["i13", "i1", "i3", "i5", "i7"]
    similar = shop.get("/v1/items/i0/similar", params={"k": 3}).json()
    assert [i["item_id"] for i in similar["items"]] == ["i14", "i1", "i2"]
    assert similar["rules"] == ["similar-only"]
    # the segment is the served version's: a rule for one applies to that segment's users only
    rule = Rule("s", "pin", segment=3)
    assert rule.applies("recommendations", None, 3, 0.0) and not rule.applies("recommendations", None, None, 0.0)


def test_a_rule_that_matches_nothing_does_nothing(shop):
    put(shop, "ghost", action="boost", items={"item_ids": ["no-such-item"]}, factor=100)
    put(shop, "ghost-pin", action="pin", items={"item_ids": ["no-such-item"]}, position=1)
    put(shop, "no-brand", action="promote", items={"attributes": {"brand": "Q"}}, share=1)
    ids, body = listed(shop)
    assert ids == ["i0", "i1", "i2", "i3", "i4"] and "rules" not in body


def test_filters_availability_and_seen_items_win_over_rules(shop):
    shop.put("/v1/items/i10", json={"title": "Item 10", "category": "c0", "available": False})
    shop.post("/v1/interactions", json={"interactions": [{"user_id": "shopper", "item_id": "i12", "type": "view"}]})
    put(shop, "pin-odd", action="pin", items={"item_ids": ["i17"]}, position=1)
    put(shop, "pin-gone", action="pin", items={"item_ids": ["i10"]}, position=2)
    put(shop, "pin-seen", action="pin", items={"item_ids": ["i12"]}, position=3)
    put(shop, "promote-z", action="promote", items={"attributes": {"brand": "Z"}}, share=1)
    ids, body = listed(shop, user="shopper", category="c0")
    assert not {"i17", "i10", "i12", "i11", "i15"} & set(ids) and "rules" not in body
    assert ids == ["i0", "i2", "i4", "i6", "i8"]
    assert "i12" in listed(shop, user="shopper", category="c0", exclude_seen=False)[0]


def test_a_rule_write_counts_in_the_next_answer_and_a_delete_undoes_it(shop):
    assert listed(shop)[0][0] == "i0"  # kept in the answer cache
    assert put(shop, "pin", action="pin", items={"item_ids": ["i19"]}, position=1).status_code == 201
    assert listed(shop)[0][0] == "i19"
    assert put(shop, "pin", action="pin", items={"item_ids": ["i18"]}, position=1).status_code == 200  # replaced
    assert listed(shop)[0][0] == "i18"
    assert [r["rule_id"] for r in shop.get("/v1/rules").json()["rules"]] == ["pin"]
    assert shop.get("/v1/rules/pin").json()["items"] == {"item_ids": ["i18"]}
    assert shop.delete("/v1/rules/pin").status_code == 204
    assert listed(shop)[0][0] == "i0"
    for r in (shop.get("/v1/rules/pin"), shop.delete("/v1/rules/pin")):
        assert r.status_code == 404 and r.json()["detail"] == "rule_id 'pin' not found"
    assert shop.get("/v1/rules", headers={"X-API-Key": READ_KEY}).status_code == 403


@pytest.mark.parametrize("rule, field", [
    ({"action": "lift", "items": {"item_ids": ["i1"]}}, "action"),
    ({"action": "boost", "items": {"item_ids": ["i1"]}, "factor": 0}, "factor"),
    ({"action": "bury", "items": {"item_ids": ["i1"]}, "factor": -1}, "factor"),
    ({"action": "boost", "items": {"item_ids": ["i1"]}}, "factor"),
    ({"action": "pin", "items": {"item_ids": ["i1"]}, "position": 1001}, "position"),
    ({"action": "pin", "items": {"item_ids": ["i1"]}, "position": 0}, "position"),
    ({"action": "pin", "items": {"item_ids": ["i1", "i2"]}, "position": 1}, "items"),
    ({"action": "pin", "items": {"category": "c1"}, "position": 1}, "items"),
    ({"action": "promote", "items": {"category": "c1"}, "share": 0}, "share"),
    ({"action": "promote", "items": {"category": "c1"}, "share": 1.5}, "share"),
    ({"action": "boost", "items": {"item_ids": [f"i{n}" for n in range(1001)]}, "factor": 2}, "items.item_ids"),
    ({"action": "boost", "items": {}, "factor": 2}, "items"),
    ({"action": "boost", "items": {"category": "c1"}, "factor": 2, "starts_at": "2026-12-02T00:00:00Z",
      "ends_at": "2026-12-01T00:00:00Z"}, "ends_at"),
    ({"action": "boost", "items": {"category": "c1"}, "factor": 2, "when": {"route": "checkout"}}, "when.route"),
])
def test_bad_rules_are_a_422_naming_the_field(client, rule, field):
    r = client.put("/v1/rules/bad", json=rule)
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == [field], r.json()
    assert r.json()["detail"].startswith(f"{field}: ")
    assert client.get("/v1/rules/bad").status_code == 404  # nothing stored
