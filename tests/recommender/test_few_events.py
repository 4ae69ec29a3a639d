"""Users with a handful of events are ranked by the established users they resemble (profile text and events),
through the routes, on SQLite and PostgreSQL, with a model trained by the worker."""

import gc

import numpy as np
import pytest

from app.model import neighbours, versions
from app.recommender.filters import Filters
from app.recommender.service import ListRequest
from app.worker.runner import Worker
from tests.conftest import READ_KEY, WRITE_KEY, open_client
from tests.recommender.test_routes import TITLES, train

PROFILES = ["I run mountain trails every weekend", "Coffee lover: an espresso every morning",
            "Hiking in the rain and storms"]


@pytest.fixture
def crowd(settings, packaged_encoder):
    """120 established users (12 clicks each in their group's category, a profile saying so) and one user
    who had only 3 clicks when the model was trained."""
    with open_client(settings.model_copy(update={"embedded_worker": False, "refresh_seconds": 3600})) as client:
        yield _seeded(client, packaged_encoder)


def _seeded(client, packaged_encoder):
    client.post("/v1/items/batch", json={"items": [
        {"item_id": f"i{n}", "title": f"{TITLES[n % 3]} no. {n}", "category": f"c{n % 3}", "price": float(n)}
        for n in range(60)]})
    n_users = neighbours.MIN_REFERENCES + 20
    client.post("/v1/users/batch", json={"users": [
        {"user_id": f"u{u}", "profile_text": PROFILES[u % 3]} for u in range(n_users)]})
    rng = np.random.default_rng(0)
    events = [{"user_id": f"u{u}", "item_id": f"i{n}", "type": "click"} for u in range(n_users)
              for n in rng.choice([n for n in range(60) if n % 3 == u % 3], size=12, replace=False)]
    events += [{"user_id": "light", "item_id": f"i{n}", "type": "click"} for n in (1, 4, 7)]
    client.post("/v1/interactions", json={"interactions": events})
    version = train(client, packaged_encoder)
    return client, version


def _top(client, user, k=10, **query):
    r = client.get(f"/v1/users/{user}/recommendations", params={"k": k, **query}, headers={"X-API-Key": READ_KEY})
    assert r.status_code == 200, r.text
    out = r.json()
    return out["strategy"], [i["item_id"] for i in out["items"]], [i["score"] for i in out["items"]]


def _mean_by_category(ids, scores) -> np.ndarray:
    return np.array([np.mean([s for i, s in zip(ids, scores, strict=True) if int(i[1:]) % 3 == c]) for c in range(3)])


def _category_share(ids, category: int) -> float:
    return sum(int(i[1:]) % 3 == category for i in ids) / len(ids)


def test_the_version_holds_its_reference_users(crowd):
    client, version = crowd
    path = versions.artifact_path(client.app.state.settings.data_dir, version)
    trained = versions.load(path)
    assert len(trained.reference_users) == neighbours.MIN_REFERENCES + 20  # "light" has 3 events: not one
    assert trained.reference_profiles.shape[0] == len(trained.reference_users)
    np.testing.assert_allclose(np.linalg.norm(trained.reference_profiles, axis=1), 1.0, rtol=1e-5)


def test_profile_text_and_clicks_of_a_new_visitor_both_count(crowd, packaged_encoder):
    client, _ = crowd
    client.put("/v1/users/barista", json={"profile_text": "I love coffee, espresso is my morning ritual"})
    client.post("/v1/embeddings/jobs", json={"target": "users"})
    Worker(client.app.state.sessions, client.app.state.settings, encoder=packaged_encoder).run_once()
    for user in ("barista", "silent"):  # one click on a running item each; only the barista has a profile
        client.post("/v1/interactions", json={"interactions": [{"user_id": user, "item_id": "i0", "type": "click"}]})
    strategy, ids, scores = _top(client, "barista")
    assert strategy == "personalized" and "i0" not in ids and scores == sorted(scores, reverse=True)
    assert _category_share(ids, 1) >= 0.9  # the profile reads like the coffee crowd's
    strategy, ids, scores = _top(client, "silent", k=59)
    assert strategy == "personalized" and "i0" not in ids
    assert _mean_by_category(ids, scores).argmax() == 0  # no profile: the click tilts the list its way (TAU is small)

    r = client.post("/v1/users/barista/rank", json={"item_ids": ["i3", "i6", "i4", "i7", "ghost"]},
                    headers={"X-API-Key": READ_KEY}).json()
    assert [i["item_id"] for i in r["items"]][:2] in (["i4", "i7"], ["i7", "i4"]) and r["unknown"] == ["ghost"]
    assert r["strategy"] == "personalized"


def test_a_user_trained_on_three_clicks_never_gets_them_back(crowd):
    client, _ = crowd
    strategy, ids, scores = _top(client, "light", k=60)
    assert strategy == "personalized" and len(ids) == 57 and not {"i1", "i4", "i7"} & set(ids)
    assert _mean_by_category(ids, scores).argmax() == 1  # their clicks' category
    _, with_seen, _ = _top(client, "light", k=60, exclude_seen="false")
    assert {"i1", "i4", "i7"} <= set(with_seen)


def test_filters_and_availability_hold(crowd):
    client, _ = crowd
    client.put("/v1/items/i10", json={"title": "gone for now", "category": "c1", "available": False})
    client.app.state.recommender.refresh()
    _, ids, _ = _top(client, "light", k=50, category="c2")
    assert ids and all(int(i[1:]) % 3 == 2 for i in ids)
    _, ids, _ = _top(client, "light", k=60)
    assert "i10" not in ids and len(ids) == 60 - 3 - 1  # every eligible item, those nobody like them had last


def test_more_events_than_the_threshold_use_the_factors(crowd):
    client, _ = crowd
    settings = client.app.state.recommender.settings
    strategy, neighbour_ids, neighbour_scores = _top(client, "light")
    client.app.state.recommender.settings = settings.model_copy(update={"few_events_max": 2})
    try:
        strategy, factor_ids, factor_scores = _top(client, "light")
    finally:
        client.app.state.recommender.settings = settings
    assert strategy == "personalized" and factor_scores != neighbour_scores
    assert not {"i1", "i4", "i7"} & set(factor_ids)


def test_items_no_similar_user_had_follow_in_the_models_order(crowd, packaged_encoder):
    client, _ = crowd
    client.post("/v1/items/batch", json={"items": [  # new since training: known by their text only
        {"item_id": "new-espresso", "title": "Espresso machine, new model", "category": "c1", "price": 1.0},
        {"item_id": "new-shoes", "title": "Trail running shoes, new model", "category": "c0", "price": 1.0}]})
    client.post("/v1/embeddings/jobs", json={"target": "items"})
    Worker(client.app.state.sessions, client.app.state.settings, encoder=packaged_encoder).run_once()
    client.app.state.recommender.refresh()
    strategy, ids, scores = _top(client, "light", k=100)
    assert strategy == "personalized" and len(ids) == 59  # 60 + 2 new, less the 3 seen
    assert ids[-2:] in (["new-espresso", "new-shoes"], ["new-shoes", "new-espresso"])
    assert all(s > 1 for s in scores[:-2]) and all(0 < s < 1 for s in scores[-2:])
    r = client.post("/v1/users/light/rank", json={"item_ids": ["new-shoes", "new-espresso", "i3"]},
                    headers={"X-API-Key": READ_KEY}).json()
    assert [i["item_id"] for i in r["items"]][0] == "i3"
    assert [i["item_id"] for i in r["items"]][1:] == ids[-2:]  # the two routes agree


def test_a_kept_answer_is_served_until_the_user_or_the_catalog_moves(crowd):
    """The answer cache (app.recommender.answers): a repeat is served as kept, and each write the
    answer depends on (a new event, a catalog write) is in the very next answer."""
    client, _ = crowd
    answers = client.app.state.recommender.answers
    first = _top(client, "light")
    hits = len(answers._entries)
    assert _top(client, "light") == first and len(answers._entries) == hits  # a repeat: served as kept
    top = first[1][0]
    client.post("/v1/interactions", json={"interactions": [{"user_id": "light", "item_id": top, "type": "click"}]})
    assert top not in _top(client, "light")[1]  # the new event is seen at once (exclude-seen)
    after_event = _top(client, "light")
    second = after_event[1][0]
    client.delete(f"/v1/items/{second}", headers={"X-API-Key": WRITE_KEY})
    assert second not in _top(client, "light")[1]  # a catalog write moves the epoch: not served from the cache


def test_popularity_moves_only_the_kept_answers_that_read_it(crowd):
    """Under steady ingestion popularity moves every refresh. A regular user's list does not read it and stays
    kept; a few-event user's list (ties by popularity) is computed again."""
    client, _ = crowd
    recommender = client.app.state.recommender
    u0, light = ListRequest("u0", 10), ListRequest("light", 10)
    regular, visitor = recommender.recommend(u0), recommender.recommend(light)
    assert regular.strategy == visitor.strategy == "personalized"
    kept_u0, kept_light = _kept(recommender, "u0"), _kept(recommender, "light")
    assert recommender.recommend(u0) == regular and recommender.recommend(light) == visitor
    assert _kept(recommender, "u0") is kept_u0 and _kept(recommender, "light") is kept_light  # served as kept
    counted = recommender.state.popularity_generation
    before = (recommender.state.epoch, recommender.state.generation)
    client.post("/v1/interactions", json={"interactions": [
        {"user_id": f"u{u}", "item_id": "i2", "type": "click"} for u in range(1, 40)]})  # other users' events
    recommender.refresh()  # what the background refresh does every SEMREC_REFRESH_SECONDS
    assert recommender.state.popularity_generation > counted
    assert (recommender.state.epoch, recommender.state.generation) == before  # model and catalog as they were
    assert recommender.recommend(u0) == regular and _kept(recommender, "u0") is kept_u0
    again = recommender.recommend(light)
    assert _kept(recommender, "light") is not kept_light and len(again.items) == 10  # computed again


def _kept(recommender, user: str):
    """The answer cache's entry for the user's plain list (one per user here): the same object while it is
    served as kept, a new one once the list is computed again."""
    (entry,) = [value for key, value in recommender.answers._entries.items() if key[1] == user]
    return entry


def test_a_visitors_kept_profile_likeness_follows_their_profile(crowd, packaged_encoder):
    """The likeness of a visitor's profile to the references is kept between their lists
    (``users.Tastes.likeness``): the kept one ranks exactly as a fresh one, and a re-encoded profile counts in
    the very next list."""
    client, _ = crowd
    recommender = client.app.state.recommender

    def profile(text):
        client.put("/v1/users/walker", json={"profile_text": text})
        client.post("/v1/embeddings/jobs", json={"target": "users"})
        Worker(client.app.state.sessions, client.app.state.settings, encoder=packaged_encoder).run_once()

    def click(item):
        client.post("/v1/interactions", json={"interactions": [{"user_id": "walker", "item_id": item,
                                                                "type": "click"}]})

    def afresh():  # nothing kept: neither the answer nor the likeness
        recommender.answers.clear()
        recommender.tastes.clear()
        return _top(client, "walker", k=20)

    profile("I love coffee, espresso is my morning ritual")
    click("i1")
    _, coffee, _ = _top(client, "walker", k=20)
    assert any(key[0] == "walker" for key in recommender.tastes._liked._entries)
    assert _category_share(coffee, 1) >= 0.9
    click("i4")  # a new event: the list is computed again, with the likeness kept
    kept = _top(client, "walker", k=20)
    assert afresh() == kept

    profile("Hiking in the rain and storms, trail running in the mountains")
    moved = _top(client, "walker", k=20)  # the likeness kept for the coffee profile must not serve it
    assert _category_share(moved[1], 1) < 0.5
    assert afresh() == moved


def test_kept_answers_are_out_of_the_cyclic_collectors_walk(crowd):
    """Twenty thousand kept answers as instances and dicts made every full collection walk a few hundred
    thousand objects, pauses of 40-85 ms in a serving process (docs/online.md, "Tenth round"): each is kept as
    tuples of strings and numbers only, which the collector stops tracking."""
    client, _ = crowd
    recommender = client.app.state.recommender
    recommender.answers.clear()
    first = recommender.recommend(ListRequest("u0", 10, filters=Filters.of(category=["c1", "c2"], min_price=1.0)))
    for _ in range(5):  # a tuple is untracked once its contents are: a nesting level per collection at worst
        gc.collect()
    ((key, value),) = recommender.answers._entries.items()
    assert not gc.is_tracked(key) and not gc.is_tracked(value)
    again = recommender.recommend(ListRequest("u0", 10, filters=Filters.of(category=["c1", "c2"], min_price=1.0)))
    assert again == first and again.items is not first.items  # served as kept, as lists of its own
