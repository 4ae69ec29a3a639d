"""Measurement through the real app, on SQLite and PostgreSQL: every answer's recommendation_id and positions,
the impressions they leave, events credited to them (both rules, the window, unknown ids), the online figures
on a hand-made case, erasure."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.experiments.stats import wilson
from app.store.models import Impression, Interaction, ModelVersion
from tests.conftest import open_client
from tests.utils import event, item


@pytest.fixture
def shop(settings):
    """12 items, popular by their events (no model: every list is the popular one)."""
    with open_client(settings.model_copy(update={"impressions_flush_seconds": 60})) as client:
        assert client.post("/v1/items/batch", json={"items": [item(n) for n in range(12)]}).status_code == 200
        events = [event(f"p{u}", f"sku-{n}", "view") for n in range(12) for u in range(12 - n)]
        assert client.post("/v1/interactions", json={"interactions": events}).status_code == 200
        client.app.state.recommender.refresh()
        client.app.state.carousels.refresh()
        yield client


def post(client, *events) -> dict:
    r = client.post("/v1/interactions", json={"interactions": list(events)})
    assert r.status_code == 200, r.text
    return r.json()["attributed"]


def impressions(client, **where) -> list[Impression]:
    client.app.state.impressions.flush()
    with client.app.state.sessions() as s:
        stmt = select(Impression).order_by(Impression.shown_at, Impression.recommendation_id,
                                             Impression.position)
        for name, value in where.items():
            stmt = stmt.where(getattr(Impression, name) == value)
        return list(s.scalars(stmt))


def stored(client, event_id: str) -> Interaction:
    with client.app.state.sessions() as s:
        return s.scalars(select(Interaction).where(Interaction.event_id == event_id)).one()


LISTS = [
    ("recommendations", "get", "/v1/users/u1/recommendations?k=4", None),
    ("recommendations", "post", "/v1/recommendations", {"user_id": "u1", "session_id": "s-7", "k": 4}),
    ("session", "post", "/v1/recommendations", {"items": ["sku-1"], "session_id": "s-7", "k": 4}),
    ("rank", "post", "/v1/users/u1/rank", {"item_ids": ["sku-3", "sku-1", "sku-2", "sku-0"]}),
    ("similar", "get", "/v1/items/sku-1/similar?k=4", None),
    ("bought_together", "get", "/v1/items/sku-1/bought-together?k=4", None),
    ("trending", "get", "/v1/trending?k=4", None),
]


@pytest.mark.parametrize(("route", "method", "path", "body"), LISTS, ids=[f"{r[0]}-{r[1]}" for r in LISTS])
def test_every_list_has_a_fresh_id_and_positions_and_leaves_impressions(shop, route, method, path, body):
    answers = [getattr(shop, method)(path, **({"json": body} if body else {})).json() for _ in range(2)]
    first, again = answers  # the same request twice: the second is a kept answer, its id a new one
    assert first["recommendation_id"] != again["recommendation_id"]
    assert [i["item_id"] for i in first["items"]] == [i["item_id"] for i in again["items"]]
    for answer in answers:
        assert [i["position"] for i in answer["items"]] == [1, 2, 3, 4]
    rows = impressions(shop, recommendation_id=first["recommendation_id"])
    assert [(r.item_id, r.position, r.route) for r in rows] == [(i["item_id"], i["position"], route)
                                                                for i in first["items"]]
    user = "u1" if "/users/u1/" in path or (body or {}).get("user_id") else None
    assert {(r.user_id, r.session_id, r.model_version) for r in rows} == {
        (user, (body or {}).get("session_id"), None)}


def test_without_impressions_answers_still_carry_ids(settings):
    with open_client(settings.model_copy(update={"impressions": False})) as client:
        client.post("/v1/items/batch", json={"items": [item(n) for n in range(3)]})
        client.app.state.recommender.refresh()
        answer = client.get("/v1/users/u1/recommendations?k=2").json()
        assert answer["recommendation_id"] and [i["position"] for i in answer["items"]] == [1, 2]
        assert impressions(client) == []


def test_a_full_buffer_is_counted_in_metrics(settings):
    with open_client(settings.model_copy(update={"impressions_buffer": 1, "impressions_flush_seconds": 60})) as c:
        c.post("/v1/items/batch", json={"items": [item(n) for n in range(3)]})
        c.app.state.recommender.refresh()
        for _ in range(3):
            c.get("/v1/trending?k=2")
        text = c.get("/metrics").text
        assert "semrec_impressions_dropped_total 2.0" in text and "semrec_impressions_pending 1.0" in text


def test_an_event_naming_its_answer_is_credited_to_it(shop):
    answer = shop.get("/v1/users/u1/recommendations?k=3").json()
    rid, shown = answer["recommendation_id"], [i["item_id"] for i in answer["items"]]
    unshown = next(f"sku-{n}" for n in range(12) if f"sku-{n}" not in shown)
    late = (datetime.now(UTC) + timedelta(hours=25)).isoformat()  # past SEMREC_ATTRIBUTION_HOURS (24)
    assert post(shop, event("u1", shown[1], recommendation_id=rid, event_id="e1"),
                event("u2", shown[0], "purchase", recommendation_id=rid, event_id="e2"),  # any shopper of it
                event("u1", unshown, recommendation_id=rid, event_id="e3"),  # that answer did not show it
                event("u1", shown[0], recommendation_id="nope-123", event_id="e4"),  # unknown
                event("u1", shown[2], recommendation_id=rid, timestamp=late, event_id="e5"),  # expired
                ) == {"recommendation_id": 2, "last_shown": 0, "unattributed": 3}
    assert (stored(shop, "e1").recommendation_id, stored(shop, "e1").attributed_by) == (rid, "recommendation_id")
    for event_id, kept in (("e3", rid), ("e4", "nope-123"), ("e5", rid)):  # the id kept, uncredited
        assert (stored(shop, event_id).recommendation_id, stored(shop, event_id).attributed_by) == (kept, None)
    assert 'semrec_attributed_events_total{by="unknown_id"} 3.0' in shop.get("/metrics").text


@pytest.mark.parametrize("indexed", ["neither", "older", "both"])
def test_an_event_naming_none_is_credited_to_the_latest_answer_that_showed_the_item(shop, indexed):
    """Whether the answers are in the per-user index yet or still in the log's tail (app.store.impression_users)."""
    log = shop.app.state.impressions
    older = shop.get("/v1/users/u1/recommendations?k=3").json()
    if indexed != "neither":
        log.flush()
        log.index_users()
    newer = shop.post("/v1/recommendations", json={"user_id": "u1", "k": 3}).json()
    if indexed == "both":
        log.flush()
        log.index_users()
    item_id = older["items"][0]["item_id"]
    assert item_id in [i["item_id"] for i in newer["items"]]
    late = (datetime.now(UTC) + timedelta(hours=25)).isoformat()
    assert post(shop, event("u1", item_id, "cart", event_id="c1"),
                event("u2", item_id, event_id="c2"),  # another shopper was not shown it
                event("u1", item_id, "view", event_id="c3"),  # views are credited only by id
                event("u1", item_id, "purchase", timestamp=late, event_id="c4"),  # past the window
                ) == {"recommendation_id": 0, "last_shown": 1, "unattributed": 2}
    assert (stored(shop, "c1").recommendation_id, stored(shop, "c1").attributed_by) == (
        newer["recommendation_id"], "last_shown")
    assert (stored(shop, "c3").recommendation_id, stored(shop, "c3").attributed_by) == (None, None)


def test_a_recommendation_id_outside_the_pattern_is_a_422_naming_it(client):
    for bad in ("", "x" * 65, "has space", "-lead"):
        r = client.post("/v1/interactions", json={"interactions": [event("u1", "i1", recommendation_id=bad)]})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "interactions[0].recommendation_id"


def test_online_figures_of_a_hand_made_case(client):
    log = client.app.state.impressions
    log.record("r1", "recommendations", "v1", "u1", None, [f"i{n}" for n in range(5)], variant="A", experiment_id="x")
    log.record("r2", "session", "v1", "u1", None, [f"i{n}" for n in range(5, 10)], experiment_id="x",
               teams=["A", "A", "A", "B", "B"])  # interleaved: each item's team
    log.record("r3", "trending", "v2", "u1", None, ["i10", "i11"], variant="A", experiment_id="x")
    log.record("r4", "recommendations", "v2", "u1", None, ["i12"])  # outside the experiment
    log.flush()
    assert post(client, event("u1", "i0", recommendation_id="r1"), event("u1", "i0", recommendation_id="r1"),
                event("u1", "i0", "purchase", recommendation_id="r1"), event("u1", "i6", recommendation_id="r2"),
                event("u1", "i8", recommendation_id="r2"), event("u1", "i8", "cart", recommendation_id="r2"),
                event("u1", "i8", "purchase", recommendation_id="r2")) == {
        "recommendation_id": 7, "last_shown": 0, "unattributed": 0}

    r = client.get("/v1/metrics/online", params={"by": "variant"})
    assert r.status_code == 200, r.text
    groups = {g["key"]: g for g in r.json()["groups"]}
    a, b = groups["A"], groups["B"]  # A: 5 + 3 + 2 shown, clicks i0 (twice: once) and i6, i0 bought
    assert (a["impressions"], a["clicks"], a["carts"], a["purchases"]) == (10, 2, 0, 1)
    assert (a["ctr"], a["conversion"]) == (0.2, 0.1)
    assert a["ci95"]["ctr"] == pytest.approx([0.05668, 0.50984], abs=1e-5)  # by hand (tests/measure)
    assert a["ci95"]["conversion"] == pytest.approx(list(wilson(1, 10)))
    assert (b["impressions"], b["clicks"], b["carts"], b["purchases"], b["ctr"]) == (2, 1, 1, 1, 0.5)
    assert groups[None]["impressions"] == 1 and list(groups)[-1] is None

    by_version = {g["key"]: g for g in client.get("/v1/metrics/online").json()["groups"]}
    assert {k: (g["impressions"], g["clicks"]) for k, g in by_version.items()} == {"v1": (10, 3), "v2": (3, 0)}
    by_route = {g["key"]: g["impressions"] for g in client.get("/v1/metrics/online?by=route").json()["groups"]}
    assert by_route == {"recommendations": 6, "session": 5, "trending": 2}

    hourly = client.get("/v1/metrics/online?by=variant&bucket=hour").json()
    series = {g["key"]: g["series"] for g in hourly["groups"]}
    assert sum(p["impressions"] for p in series["A"]) == 10 and sum(p["clicks"] for p in series["A"]) == 2
    assert all(p["at"].endswith(":00:00Z") for p in series["A"])
    daily = client.get("/v1/metrics/online?by=variant&bucket=day").json()
    assert sum(p["impressions"] for g in daily["groups"] for p in g["series"]) == 13

    past = {"from": "2020-01-01T00:00:00Z", "to": "2020-01-02T00:00:00Z"}
    assert client.get("/v1/metrics/online", params=past).json()["groups"] == []


def test_activations_are_listed_for_the_curves(client):
    with client.app.state.sessions.begin() as s:
        s.add(ModelVersion(version="v-old", active=False, params={}, metrics={}))
    assert client.post("/v1/models/v-old/activate").status_code == 200
    answer = client.get("/v1/metrics/online").json()
    assert [a["version"] for a in answer["activations"]] == ["v-old"]


def test_bad_periods_and_groupings_are_422s_naming_them(client):
    r = client.get("/v1/metrics/online", params={"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "from"
    r = client.get("/v1/metrics/online", params={"by": "colour"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "by"
    r = client.get("/v1/metrics/online", params={"bucket": "week"})
    assert r.status_code == 422
    assert client.get("/v1/metrics/online", params={"to": "0001-01-02T00:00:00Z"}).status_code == 200
    r = client.get("/v1/metrics/online", headers={"X-API-Key": "test-read-key"})
    assert r.status_code == 403


def test_erasing_a_user_erases_their_impressions(shop):
    """Those in the per-user index and those still in the log's tail (app.store.impression_users)."""
    shop.get("/v1/users/p10/recommendations?k=2")
    shop.get("/v1/users/p11/recommendations?k=2")
    shop.app.state.impressions.flush()
    shop.app.state.impressions.index_users()
    shop.get("/v1/users/p10/recommendations?k=2")
    assert len(impressions(shop, user_id="p10")) == 4
    assert shop.delete("/v1/users/p10").status_code == 204
    assert impressions(shop, user_id="p10") == [] and len(impressions(shop, user_id="p11")) == 2
