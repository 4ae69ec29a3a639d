"""Bought together and trending through the real app, on SQLite and PostgreSQL, from planted events."""

import time
from datetime import UTC, datetime, timedelta

import pytest

from app.recommender.carousels import FILLER_PAIRS
from tests.conftest import READ_KEY, open_client
from tests.utils import item

READ = {"X-API-Key": READ_KEY}
NOW = datetime.now(UTC).replace(microsecond=0)


def _at(hours_ago: float) -> str:
    return (NOW - timedelta(hours=hours_ago)).isoformat()


def _buy(user: str, item_id: str, hours_ago: float, type_: str = "purchase") -> dict:
    event = {"user_id": user, "item_id": item_id, "type": type_, "timestamp": _at(hours_ago)}
    return event | ({"value": 5} if type_ == "rating" else {})


def _post(client, events: list[dict]) -> None:
    for start in range(0, len(events), 5000):
        r = client.post("/v1/interactions", json={"interactions": events[start:start + 5000]})
        assert r.status_code == 200, r.text


@pytest.fixture
def shop(settings):
    """sku-2 is bought with sku-1 by ten shoppers (and with sku-5 by ten more: it is common); sku-3 once with
    sku-1 (rare: a higher lift than sku-2's, on one basket); sku-4 by ten shoppers three days after sku-1 (not
    one basket); sku-6 is the most popular item, bought alone."""
    with open_client(settings.model_copy(update={"refresh_seconds": 0.2})) as client:
        assert client.post("/v1/items/batch", json={"items": [item(n) for n in range(12)]}).status_code == 200
        events = []
        for u in range(10):
            events += [_buy(f"a{u}", "sku-1", 100), _buy(f"a{u}", "sku-2", 99), _buy(f"a{u}", "sku-4", 28)]
            events += [_buy(f"b{u}", "sku-2", 50), _buy(f"b{u}", "sku-5", 49, "rating")]
        events += [_buy("c0", "sku-1", 10), _buy("c0", "sku-3", 9)]
        events += [_buy(f"d{u}", "sku-6", 200 + 60 * u, "view") for u in range(40)]
        _post(client, events)
        client.app.state.recommender.refresh()  # popularity (the popular items after the partners) too
        client.app.state.carousels.refresh()
        yield client


def _partners(answer: dict) -> list[str]:
    return [i["item_id"] for i in answer["items"] if "because" not in i]


def test_the_planted_partner_comes_first_and_a_rare_pair_is_shrunk_below_it(shop):
    r = shop.get("/v1/items/sku-1/bought-together", headers=READ)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["strategy"] == "bought_together"
    assert _partners(answer) == ["sku-2", "sku-3"]  # sku-4 was bought three days later: another basket
    scores = {i["item_id"]: i["score"] for i in answer["items"]}
    assert scores["sku-2"] > scores["sku-3"] > 1.0
    # The rest are popular items that say so, the item itself never among them.
    rest = answer["items"][2:]
    assert len(answer["items"]) == 10 and rest[0]["item_id"] == "sku-6"
    assert all(i["because"] == FILLER_PAIRS for i in rest) and "sku-1" not in [i["item_id"] for i in rest]


def test_ratings_count_as_bought_and_k_cuts_the_list(shop):
    answer = shop.get("/v1/items/sku-5/bought-together", params={"k": 1}, headers=READ).json()
    assert [i["item_id"] for i in answer["items"]] == ["sku-2"] and answer["strategy"] == "bought_together"


def test_an_item_bought_with_nothing_gets_popular_items(shop):
    answer = shop.get("/v1/items/sku-6/bought-together", params={"k": 3}, headers=READ).json()
    assert answer["strategy"] == "popular" and len(answer["items"]) == 3
    assert "sku-6" not in [i["item_id"] for i in answer["items"]]


def test_a_new_purchase_is_in_the_next_answer_and_erasure_takes_it_back(shop):
    _post(shop, [_buy("e0", "sku-7", 1), _buy("e0", "sku-8", 0.5)])
    assert _partners(shop.get("/v1/items/sku-7/bought-together", headers=READ).json()) == ["sku-8"]
    assert shop.delete("/v1/users/c0").status_code == 204
    assert _partners(shop.get("/v1/items/sku-1/bought-together", headers=READ).json()) == ["sku-2"]


def test_unknown_or_deleted_item_is_a_404_naming_it(shop):
    r = shop.get("/v1/items/nope/bought-together", headers=READ)
    assert r.status_code == 404 and "nope" in r.json()["detail"]
    assert shop.delete("/v1/items/sku-2").status_code == 204
    assert shop.get("/v1/items/sku-2/bought-together", headers=READ).status_code == 404
    assert "sku-2" not in [i["item_id"] for i in shop.get("/v1/items/sku-1/bought-together", headers=READ)
                           .json()["items"]]


@pytest.mark.parametrize(("route", "query", "field"), [
    ("/v1/items/sku-1/bought-together", {"k": 0}, "k"), ("/v1/items/sku-1/bought-together", {"k": 1001}, "k"),
    ("/v1/trending", {"k": 0}, "k"), ("/v1/trending", {"hours": 0}, "hours"), ("/v1/trending", {"hours": 169}, "hours"),
    ("/v1/trending", {"hours": "soon"}, "hours"),
])
def test_bad_parameters_are_422s_naming_the_field(client, route, query, field):
    r = client.get(route, params=query, headers=READ)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == field, r.text


def test_a_burst_trends_and_a_steady_favourite_does_not(shop):
    steady = [_buy(f"s{n}", "sku-9", 3 * n, "view") for n in range(240)]  # 8 a day for 30 days
    burst = [_buy(f"t{n}", "sku-10", 0.5, "view") for n in range(15)]  # 15 in the last hour, none before
    _post(shop, steady + burst)
    shop.app.state.recommender.refresh()
    shop.app.state.carousels.refresh()
    answer = shop.get("/v1/trending", headers=READ).json()
    assert answer["strategy"] == "trending" and answer["items"][0]["item_id"] == "sku-10", answer
    scores = {i["item_id"]: i["score"] for i in answer["items"]}
    assert scores["sku-10"] > 3 and scores.get("sku-9", 0) < 1.2
    popular = shop.get("/v1/users/nobody/recommendations", headers=READ).json()
    assert popular["items"][0]["item_id"] == "sku-9"  # the most events, yet not trending
    # A category without the burst; and a shorter window still sees it.
    assert "sku-10" not in [i["item_id"] for i in shop.get("/v1/trending", params={"category": "c0"},
                                                           headers=READ).json()["items"]]
    assert shop.get("/v1/trending", params={"hours": 2, "k": 1}, headers=READ).json()["items"][0]["item_id"] == \
        "sku-10"


def test_trending_follows_new_events_within_the_refresh(shop):
    """The background refresh (every 0.2 s here) carries a new burst into the answers of the API process."""
    _post(shop, [_buy(f"v{n}", "sku-11", 0.1, "click") for n in range(30)])
    deadline = time.monotonic() + 5
    while True:
        top = shop.get("/v1/trending", params={"k": 1}, headers=READ).json()["items"]
        if top and top[0]["item_id"] == "sku-11":
            break
        assert time.monotonic() < deadline, top
        time.sleep(0.05)


def test_bought_together_and_trending_take_the_list_filters(shop):
    r = shop.get("/v1/items/sku-1/bought-together", headers=READ, params={"exclude_item_ids": ["sku-2"]})
    assert r.status_code == 200 and _partners(r.json()) == ["sku-3"]
    r = shop.get("/v1/items/sku-1/bought-together", headers=READ, params={"item_ids": ["sku-3", "sku-7"], "k": 5})
    assert r.status_code == 200 and {i["item_id"] for i in r.json()["items"]} <= {"sku-3", "sku-7"}
    r = shop.get("/v1/trending", headers=READ, params={"item_ids": ["sku-6", "sku-9"], "k": 5})
    assert r.status_code == 200 and {i["item_id"] for i in r.json()["items"]} <= {"sku-6", "sku-9"}
    r = shop.get("/v1/trending", headers=READ, params={"attributes": "nope"})  # not name:value
    assert r.status_code == 422 and r.json()["detail"].startswith("attributes")


def test_events_at_the_calendars_ends_are_stored_and_counted_without_error(shop):
    events = [_buy("e0", "sku-7", 0) | {"timestamp": "0001-01-01T00:00:00Z"},
              _buy("e0", "sku-8", 0) | {"timestamp": "0001-01-01T01:00:00Z"},
              _buy("e1", "sku-9", 0) | {"timestamp": "9999-12-31T22:00:00Z"}]
    _post(shop, events)
    r = shop.get("/v1/items/sku-7/bought-together", headers=READ)
    assert r.status_code == 200 and _partners(r.json())[:1] == ["sku-8"]
    shop.app.state.carousels.refresh()
    assert shop.get("/v1/trending", headers=READ).status_code == 200
