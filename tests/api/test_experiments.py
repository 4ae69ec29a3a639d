"""Experiments through the real app, on SQLite and PostgreSQL: the routes' checks (422, 404, 409), sticky
assignment by weight, what a variant's params change, interleaving and its credit, the decision before and at
the planned size, stop. The lists are popular ones (no model): tests/recommender/test_experiment_versions.py
serves a variant from another model version."""

from collections import Counter

import numpy as np
import pytest

from app.experiments import ab_sample_size, design_effect, design_effect_bound, shopper_figures
from tests.conftest import open_client
from tests.utils import event, item

AB = {"method": "ab", "metric": "ctr", "routes": ["recommendations"],
      "variants": [{"name": "control"}, {"name": "treatment"}]}


@pytest.fixture
def shop(settings):
    """12 items, popular by their events in id order; the first six in category a, the rest in b."""
    with open_client(settings.model_copy(update={"impressions_flush_seconds": 60})) as client:
        items = [item(n, category="a" if n < 6 else "b") for n in range(12)]
        assert client.post("/v1/items/batch", json={"items": items}).status_code == 200
        events = [event(f"p{u}", f"sku-{n}", "view") for n in range(12) for u in range(12 - n)]
        assert client.post("/v1/interactions", json={"interactions": events}).status_code == 200
        client.app.state.recommender.refresh()
        yield client


def put(client, experiment_id, body, status=200) -> dict:
    r = client.put(f"/v1/experiments/{experiment_id}", json=body)
    assert r.status_code == status, r.text
    return r.json()


def recs(client, user, k=4, **query) -> dict:
    r = client.get(f"/v1/users/{user}/recommendations", params={"k": k, **query})
    assert r.status_code == 200, r.text
    return r.json()


def ids(answer) -> list[str]:
    return [i["item_id"] for i in answer["items"]]


def click(client, answer, item_id, type_="click"):
    body = {"interactions": [event(answer.get("user_id", "x"), item_id, type_,
                                   recommendation_id=answer["recommendation_id"])]}
    r = client.post("/v1/interactions", json=body)
    assert r.status_code == 200, r.text


def test_bad_input_is_a_422_naming_the_field(shop):
    cases = [
        ({**AB, "method": "bandit"}, "method"),
        ({**AB, "variants": [{"name": "a"}, {"name": "b", "weight": 0}]}, "variants[1].weight"),
        ({**AB, "variants": [{"name": "a"}, {"name": "a"}]}, "variants"),
        ({**AB, "starts_at": "2027-01-02T00:00:00Z", "ends_at": "2027-01-01T00:00:00Z"}, "ends_at"),
        ({**AB, "method": "interleaving", "variants": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}, "variants"),
        ({**AB, "variants": [{"name": "a"}]}, "variants"),
        ({**AB, "routes": ["rank"]}, "routes[0]"),
        ({**AB, "variants": [{"name": "a"}, {"name": "b", "params": {"diversity": 2}}]},
         "variants[1].params.diversity"),
        ({**AB, "base_rate": 0.5, "min_lift": 3}, "min_lift"),
        ({**AB, "min_lift": 1e-9}, "min_lift"),  # a plan of more lists than any shop shows (the fuzzer's 5xx)
        ({**AB, "method": "interleaving", "min_lift": 1e-300}, "min_lift"),
        ({**AB, "method": "interleaving", "base_rate": 1e-300}, "min_lift"),
    ]
    for body, field in cases:
        r = shop.put("/v1/experiments/e1", json=body)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["errors"][0]["field"] == field, (field, r.json())
    assert shop.get("/v1/experiments").json() == {"experiments": []}


def test_unknown_ids_and_overlapping_routes(shop):
    r = shop.put("/v1/experiments/e1", json={**AB, "variants": [{"name": "a"}, {"name": "b", "model_version": "v-x"}]})
    assert r.status_code == 404 and "v-x" in r.json()["detail"]
    assert shop.get("/v1/experiments/nope").status_code == 404
    assert shop.post("/v1/experiments/nope/stop").status_code == 404
    created = put(shop, "e1", AB)
    assert created["status"] == "running" and created["decision"] == "none yet" and created["planned"] > 1000
    assert created["base_rate"] == 0.05 and created["min_lift"] == 0.1  # nothing shown this week: the default
    r = shop.put("/v1/experiments/e2", json={**AB, "routes": ["session", "recommendations"]})
    assert r.status_code == 409 and "'e1'" in r.json()["detail"]
    put(shop, "e2", {**AB, "routes": ["session"]})  # another route: fine
    put(shop, "e1", {**AB, "min_lift": 0.5})  # nothing shown yet: replaced
    recs(shop, "u1")
    r = shop.put("/v1/experiments/e1", json=AB)
    assert r.status_code == 409 and "shown" in r.json()["detail"]
    stopped = shop.post("/v1/experiments/e1/stop").json()
    assert stopped["status"] == "stopped" and stopped["stopped_at"]
    put(shop, "e3", AB)  # the route is free again
    listed = shop.get("/v1/experiments").json()["experiments"]
    assert {e["experiment_id"]: e["status"] for e in listed} == {"e1": "stopped", "e2": "running", "e3": "running"}
    put(shop, "later", {**AB, "routes": ["trending"], "starts_at": "2999-01-01T00:00:00Z"}, 200)
    assert shop.get("/v1/experiments/later").json()["status"] == "scheduled"


def test_the_plan_reads_last_weeks_lists_and_their_design_effects_upper_limit(shop):
    lists = np.array([1, 2, 3, 6, 1, 2, 3, 4, 1, 2, 5, 1])
    clicked = np.array([1, 2, 3, 6, 0, 0, 1, 0, 0, 0, 1, 0])  # the first four shoppers click every list
    for n, (x, y) in enumerate(zip(lists, clicked, strict=True)):
        for shown in range(x):
            answer = recs(shop, f"week-{n}")
            if shown < y:
                click(shop, {**answer, "user_id": f"week-{n}"}, ids(answer)[0])
    f = shopper_figures(lists, clicked, spread=True)
    rate, bound = clicked.sum() / lists.sum(), design_effect_bound(f)
    assert bound > design_effect(f) > 1.5
    created = put(shop, "planned", {**AB, "min_lift": 0.5})
    assert created["base_rate"] == pytest.approx(rate)
    assert created["planned"] == ab_sample_size(rate, 0.5, design_effect=bound)


def test_a_shopper_keeps_their_variant_and_the_weights_hold(shop):
    put(shop, "sticky", {**AB, "variants": [{"name": "a", "weight": 3}, {"name": "b", "weight": 1}]})
    first = recs(shop, "u-7")
    assert first["experiment_id"] == "sticky" and first["variant"] in ("a", "b")
    assert {recs(shop, "u-7")["variant"] for _ in range(20)} == {first["variant"]}
    seen = Counter(recs(shop, f"user-{n}", k=1)["variant"] for n in range(400))
    assert abs(seen["b"] / 400 - 0.25) < 0.07, seen
    # A visitor is assigned by session_id; nobody at all gets the plain list outside the experiment.
    visit = shop.post("/v1/recommendations", json={"session_id": "s-1", "k": 3}).json()
    assert visit["variant"] in ("a", "b")
    plain = shop.post("/v1/recommendations", json={"k": 3}).json()
    assert "variant" not in plain and "experiment_id" not in plain
    assert "variant" not in shop.get("/v1/trending?k=3").json()  # not one of the experiment's routes


def variant_users(client, n=60, **query) -> dict[str, list[tuple[str, dict]]]:
    out: dict[str, list] = {}
    for u in range(n):
        answer = recs(client, f"u{u}", **query)
        out.setdefault(answer["variant"], []).append((f"u{u}", answer))
    return out


def test_a_variants_params_act_and_cached_plain_lists_never_leak(shop):
    assert shop.put("/v1/rules/pin-11", json={"action": "pin", "items": {"item_ids": ["sku-11"]},
                                             "position": 1}).status_code == 201
    plain = recs(shop, "u0")  # kept in the answer cache: must not be served to a variant
    assert ids(plain) == ["sku-11", "sku-0", "sku-1", "sku-2"]
    put(shop, "params", {**AB, "variants": [{"name": "plain"}, {"name": "bare", "params": {"rules": False}},
                                            {"name": "diverse", "params": {"diversity": 1.0, "rules": False}}]})
    by_variant = variant_users(shop)
    assert set(by_variant) == {"plain", "bare", "diverse"}
    for _, answer in by_variant["plain"]:
        assert ids(answer) == ids(plain) and answer["rules"] == ["pin-11"]
    for _, answer in by_variant["bare"]:
        assert ids(answer) == ["sku-0", "sku-1", "sku-2", "sku-3"] and "rules" not in answer
    for _, answer in by_variant["diverse"]:
        assert {i["item_id"] for i in answer["items"]} & {f"sku-{n}" for n in range(6, 12)}  # category b moved up
        assert ids(answer) != ["sku-0", "sku-1", "sku-2", "sku-3"]
    rows = impressions(shop, by_variant["bare"][0][1]["recommendation_id"])
    assert {(r.variant, r.experiment_id) for r in rows} == {("bare", "params")}


def impressions(client, recommendation_id):
    from sqlalchemy import select

    from app.store.models import Impression

    client.app.state.impressions.flush()
    with client.app.state.sessions() as s:
        return list(s.scalars(select(Impression).where(Impression.recommendation_id == recommendation_id)
                              .order_by(Impression.position)))


def test_interleaving_merges_both_lists_and_credits_the_team_that_placed_the_item(shop):
    assert shop.put("/v1/rules/pin-11", json={"action": "pin", "items": {"item_ids": ["sku-11"]},
                                             "position": 1}).status_code == 201
    with_rules = ["sku-11", "sku-0", "sku-1", "sku-2", "sku-3", "sku-4"]
    without = ["sku-0", "sku-1", "sku-2", "sku-3", "sku-4", "sku-5"]
    put(shop, "mix", {"method": "interleaving", "metric": "ctr", "routes": ["recommendations"],
                      "variants": [{"name": "rules"}, {"name": "bare", "params": {"rules": False}}]})
    won = Counter()
    for u in range(12):
        answer = recs(shop, f"u{u}", k=6)
        assert answer["variant"] == "interleaved" and answer["experiment_id"] == "mix"
        assert len(ids(answer)) == 6 and len(set(ids(answer))) == 6
        assert all(i in with_rules or i in without for i in ids(answer))
        rows = impressions(shop, answer["recommendation_id"])
        teams = [r.variant for r in rows]
        assert [r.item_id for r in rows] == ids(answer) and set(teams) <= {"rules", "bare"}
        assert abs(teams.count("rules") - teams.count("bare")) <= 1
        for item_, team in zip(ids(answer), teams, strict=True):  # each item as its team's list has it
            assert item_ in (with_rules if team == "rules" else without)
        # The shopper clicks an item the bare variant placed: its team wins the list.
        bare_items = [i for i, t in zip(ids(answer), teams, strict=True) if t == "bare"]
        if u % 2 == 0 and bare_items:
            shop.post("/v1/interactions", json={"interactions": [event(
                f"u{u}", bare_items[0], "click", recommendation_id=answer["recommendation_id"])]})
            won["bare"] += 1
    again = recs(shop, "u0", k=6)  # reproducible from its id: the same two lists, a fresh draft
    assert set(ids(again)) <= set(with_rules) | set(without)
    report = shop.get("/v1/experiments/mix").json()
    figures = {v["name"]: v for v in report["variants"]}
    assert figures["bare"]["lists"] == figures["rules"]["lists"] == 13
    assert figures["bare"]["successes"] == won["bare"] == 6 and figures["rules"]["successes"] == 0
    assert report["reached"] == 13 and report["decision"] == "none yet"
    assert report["difference"]["value"] == 0.5 and report["difference"]["p_value"] < 0.05


def test_the_decision_waits_for_the_planned_lists_then_names_the_winner(shop):
    small = {**AB, "base_rate": 0.2, "min_lift": 3.0}
    planned = put(shop, "tiny", small)["planned"]
    assert planned == 10
    by_variant = variant_users(shop, n=40)
    assert min(len(v) for v in by_variant.values()) >= planned
    for user, answer in by_variant["treatment"][:3]:
        shop.post("/v1/interactions", json={"interactions": [event(
            user, ids(answer)[0], "click", recommendation_id=answer["recommendation_id"])]})
    early = shop.get("/v1/experiments/tiny").json()
    assert early["reached"] >= planned  # shown, but not yet clicked enough to tell: no difference yet
    for user, answer in by_variant["treatment"][3:]:
        shop.post("/v1/interactions", json={"interactions": [event(
            user, ids(answer)[1], "click", recommendation_id=answer["recommendation_id"])]})
    report = shop.get("/v1/experiments/tiny").json()
    figures = {v["name"]: v for v in report["variants"]}
    assert figures["treatment"]["successes"] == figures["treatment"]["lists"] == len(by_variant["treatment"])
    assert figures["control"]["successes"] == 0 and figures["control"]["rate"] == 0.0
    assert figures["treatment"]["ci95"][0] > 0.5 and report["difference"]["value"] == 1.0
    assert report["decision"] == "treatment"
    stopped = shop.post("/v1/experiments/tiny/stop").json()
    assert stopped["status"] == "stopped" and stopped["decision"] == "treatment"
    assert "variant" not in recs(shop, "u0")  # stopped: the plain list again


def test_none_yet_before_the_planned_lists(shop):
    put(shop, "slow", {**AB, "base_rate": 0.2, "min_lift": 3.0})
    for u in range(4):
        answer = recs(shop, f"u{u}")
        click(shop, {**answer, "user_id": f"u{u}"}, ids(answer)[0])
    report = shop.get("/v1/experiments/slow").json()
    assert report["reached"] < report["planned"] and report["decision"] == "none yet"
    assert sum(v["lists"] for v in report["variants"]) == 4
    assert sum(v["successes"] for v in report["variants"]) == 4
