"""Recommendation routes on a trained model, on SQLite and PostgreSQL."""

import threading

import numpy as np
import pytest

from app.worker.runner import Worker
from tests.conftest import READ_KEY, open_client

TITLES = ["Trail running shoes", "Espresso machine", "Rain jacket"]


@pytest.fixture
def client(settings):
    with open_client(settings.model_copy(update={"embedded_worker": False, "refresh_seconds": 3600})) as c:
        yield c


def seed(client):
    client.post("/v1/items/batch", json={"items": [
        {"item_id": f"i{n}", "title": f"{TITLES[n % 3]} no. {n}", "category": f"c{n % 3}", "price": float(n)}
        for n in range(60)]})
    rng = np.random.default_rng(0)
    events = []
    for u in range(30):
        favourite = [n for n in range(60) if n % 3 == u % 3]
        for n in rng.choice(favourite, size=8, replace=False):
            events.append({"user_id": f"u{u}", "item_id": f"i{n}", "type": "click"})
    client.post("/v1/interactions", json={"interactions": events})


def train(client, encoder, **params) -> str:
    r = client.post("/v1/training/jobs", json={"epochs": 30, "factors": 8, **params})
    Worker(client.app.state.sessions, client.app.state.settings, encoder=encoder).run_once()
    job = client.get(f"/v1/jobs/{r.json()['job_id']}").json()
    assert job["status"] == "succeeded", job["error"]
    client.app.state.recommender.refresh()
    return job["result"]["model_version"]


@pytest.fixture
def trained(client, packaged_encoder):
    seed(client)
    version = train(client, packaged_encoder)
    client.app.state.recommender.encoder = packaged_encoder
    return client, version


def recs(client, user, **query):
    r = client.get(f"/v1/users/{user}/recommendations", params=query, headers={"X-API-Key": READ_KEY})
    assert r.status_code == 200, r.text
    return r.json()


def history(client, user):
    return {e["item_id"] for e in client.get(f"/v1/users/{user}/interactions").json()["interactions"]}


def test_personalized_top_k_excludes_seen(trained):
    client, version = trained
    out = recs(client, "u0", k=10)
    assert out["model_version"] == version and out["strategy"] == "personalized"
    ids = [i["item_id"] for i in out["items"]]
    assert len(ids) == 10 and not set(ids) & history(client, "u0")
    scores = [i["score"] for i in out["items"]]
    assert scores == sorted(scores, reverse=True) and all(i["title"] for i in out["items"])
    # The model learned the user's taste: their favourite category leads the list.
    assert sum(int(i[1:]) % 3 == 0 for i in ids[:5]) >= 4
    with_seen = [i["item_id"] for i in recs(client, "u0", k=30, exclude_seen=False)["items"]]
    assert set(with_seen) & history(client, "u0")


def test_filters(trained):
    client, _ = trained
    items = recs(client, "u1", k=10, category="c2")["items"]
    assert len(items) == 10 and all(int(i["item_id"][1:]) % 3 == 2 for i in items)
    items = recs(client, "u1", k=10, min_price=10, max_price=20)["items"]
    assert items and all(10 <= int(i["item_id"][1:]) <= 20 for i in items)
    # Fewer eligible items than k: all of them (unseen ones), no more.
    eligible = {f"i{n}" for n in range(0, 60, 3) if 30 <= n <= 45} - history(client, "u1")
    items = recs(client, "u1", k=50, category="c0", min_price=30, max_price=45)["items"]
    assert {i["item_id"] for i in items} == eligible
    assert recs(client, "u1", category="nope")["items"] == []


def test_deleted_and_unavailable_items_never_come_back(trained):
    client, _ = trained
    top = [i["item_id"] for i in recs(client, "u0", k=3)["items"]]
    client.delete(f"/v1/items/{top[0]}")
    client.put(f"/v1/items/{top[1]}", json={"title": "gone for now", "category": "c0", "available": False})
    client.app.state.recommender.refresh()
    for user in ("u0", "u3", "nobody"):
        ids = {i["item_id"] for i in recs(client, user, k=60)["items"]}
        assert not ids & set(top[:2])
    similar = client.get(f"/v1/items/{top[2]}/similar", params={"k": 60}).json()["items"]
    assert not {i["item_id"] for i in similar} & set(top[:2])


def test_unknown_visitor_gets_popular_items_not_404(trained):
    client, version = trained
    out = recs(client, "never-seen-before", k=5)
    assert out["strategy"] == "popular" and len(out["items"]) == 5 and out["model_version"] == version
    scores = [i["score"] for i in out["items"]]
    assert scores == sorted(scores, reverse=True)


def test_user_known_only_by_text_gets_a_text_strategy(trained, packaged_encoder):
    client, _ = trained
    client.put("/v1/users/writer", json={"profile_text": "I love espresso and good coffee machines"})
    client.post("/v1/embeddings/jobs", json={"target": "users"})
    Worker(client.app.state.sessions, client.app.state.settings, encoder=packaged_encoder).run_once()
    out = recs(client, "writer", k=5)
    assert out["strategy"] == "text" and len(out["items"]) == 5


def test_three_clicks_make_a_personal_list(trained):
    client, _ = trained
    popular = [i["item_id"] for i in recs(client, "newcomer", k=10)["items"]]
    client.post("/v1/interactions", json={"interactions": [
        {"user_id": "newcomer", "item_id": f"i{n}", "type": "click"} for n in (2, 5, 8)]})  # all category c2
    out = recs(client, "newcomer", k=10)
    ids = [i["item_id"] for i in out["items"]]
    assert out["strategy"] == "personalized" and ids != popular
    assert not {"i2", "i5", "i8"} & set(ids)
    assert sum(int(i[1:]) % 3 == 2 for i in ids[:5]) >= 4  # their taste, folded in without retraining


def test_known_user_list_follows_new_events(trained):
    client, _ = trained
    before = [i["item_id"] for i in recs(client, "u0", k=10)["items"]]
    client.post("/v1/interactions", json={"interactions": [
        {"user_id": "u0", "item_id": f"i{n}", "type": "purchase"} for n in (1, 4, 7, 10, 13)]})
    after = [i["item_id"] for i in recs(client, "u0", k=10)["items"]]
    assert after != before and not {"i1", "i4", "i7", "i10", "i13"} & set(after)


def test_rank_keeps_every_known_candidate(trained):
    client, _ = trained
    r = client.post("/v1/users/u0/rank", json={"item_ids": ["i1", "i0", "ghost-1", "i3", "i2", "ghost-2"]},
                    headers={"X-API-Key": READ_KEY})
    assert r.status_code == 200
    out = r.json()
    assert sorted(i["item_id"] for i in out["items"]) == ["i0", "i1", "i2", "i3"]
    assert out["unknown"] == ["ghost-1", "ghost-2"]
    ranked = [i["item_id"] for i in out["items"]]
    assert set(ranked[:2]) == {"i0", "i3"}  # u0's favourite category first
    assert client.post("/v1/users/u0/rank", json={"item_ids": []}).status_code == 422
    assert client.post("/v1/users/u0/rank", json={"item_ids": [f"i{n}" for n in range(1001)]}).status_code == 422


def test_rank_predicts_ratings_when_the_store_holds_ratings(client, packaged_encoder):
    """One default job trains the ranking factors and a rating predictor: the ranked items carry
    `predicted_rating`, higher where the user's group rated high; a store of clicks gets none."""
    seed(client)
    rng = np.random.default_rng(1)
    client.post("/v1/interactions", json={"interactions": [
        {"user_id": f"r{u}", "item_id": f"i{n}", "type": "rating", "value": 5 if n % 2 == u % 2 else 1}
        for u in range(20) for n in rng.choice(60, 20, replace=False)]})
    version = train(client, packaged_encoder, epochs=None, factors=None)
    model = next(m for m in client.get("/v1/models").json()["models"] if m["version"] == version)
    assert {"val_rmse", "val_recall@20"} <= set(model["metrics"])
    out = client.post("/v1/users/r0/rank", json={"item_ids": [f"i{n}" for n in range(60)]},
                      headers={"X-API-Key": READ_KEY}).json()
    predicted = {i["item_id"]: i["predicted_rating"] for i in out["items"]}
    assert len(predicted) == 60 and all(1 <= v <= 5 for v in predicted.values())
    even = np.mean([v for i, v in predicted.items() if int(i[1:]) % 2 == 0])
    odd = np.mean([v for i, v in predicted.items() if int(i[1:]) % 2 == 1])
    assert even > odd + 1, (even, odd)


def test_rank_of_a_clicks_only_store_has_no_predicted_rating(trained):
    client, _ = trained
    out = client.post("/v1/users/u0/rank", json={"item_ids": ["i0", "i1"]}, headers={"X-API-Key": READ_KEY}).json()
    assert len(out["items"]) == 2 and not any("predicted_rating" in i for i in out["items"])


def test_similar_items(trained):
    client, _ = trained
    out = client.get("/v1/items/i0/similar", params={"k": 5}, headers={"X-API-Key": READ_KEY}).json()
    ids = [i["item_id"] for i in out["items"]]
    assert len(ids) == 5 and "i0" not in ids
    assert sum(int(i[1:]) % 3 == 0 for i in ids) >= 4
    assert client.get("/v1/items/nope/similar").status_code == 404


def test_similar_for_an_item_stored_since_the_last_refresh(trained):
    """Serving has not seen it yet (no refresh in this client): popular items, not a 404 for a stored item."""
    client, version = trained
    assert client.put("/v1/items/brand-new", json={"title": "Rain jacket, new"}).status_code == 200
    r = client.get("/v1/items/brand-new/similar", params={"k": 3}, headers={"X-API-Key": READ_KEY})
    assert r.status_code == 200, r.text
    assert r.json()["strategy"] == "popular" and len(r.json()["items"]) == 3
    client.delete("/v1/items/brand-new")
    assert client.get("/v1/items/brand-new/similar").status_code == 404


def test_new_item_with_text_enters_without_retraining(trained, packaged_encoder):
    client, _ = trained
    client.put("/v1/items/new-shoe", json={"title": "Trail running shoes no. 99", "category": "c0", "price": 5})
    client.post("/v1/embeddings/jobs", json={"target": "items"})
    Worker(client.app.state.sessions, client.app.state.settings, encoder=packaged_encoder).run_once()
    client.app.state.recommender.refresh()
    ids = [i["item_id"] for i in recs(client, "u0", k=10, category="c0", max_price=6)["items"]]
    assert "new-shoe" in ids
    ranked = client.post("/v1/users/u3/rank", json={"item_ids": ["new-shoe", "i1", "i2"]}).json()["items"]
    assert ranked[0]["item_id"] == "new-shoe"  # u3 likes category c0; the new shoe's text says c0


def test_query_text(trained):
    client, _ = trained
    r = client.post("/v1/recommendations", json={"query": "coffee espresso machine", "k": 5},
                    headers={"X-API-Key": READ_KEY})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["strategy"] == "text" and len(out["items"]) == 5
    assert sum(int(i["item_id"][1:]) % 3 == 1 for i in out["items"]) >= 4
    mixed = client.post("/v1/recommendations", json={"user_id": "u0", "query": "rain jacket", "k": 5,
                                                     "filters": {"max_price": 30}, "context": {"device": "mobile"}})
    assert mixed.json()["strategy"] == "personalized"
    assert all(int(i["item_id"][1:]) <= 30 for i in mixed.json()["items"])


def test_no_model_yet_means_popular(client):
    seed(client)
    client.app.state.recommender.refresh()
    out = recs(client, "u0", k=3)
    assert out == {"recommendation_id": out["recommendation_id"], "model_version": None, "strategy": "popular",
                   "items": out["items"]} and len(out["items"]) == 3


def test_swap_under_load(trained, packaged_encoder):
    client, v1 = trained
    v2 = train(client, packaged_encoder, seed=5)
    errors, versions = [], set()
    stop = threading.Event()

    def hammer():
        while not stop.is_set():
            r = client.get("/v1/users/u0/recommendations", params={"k": 5})
            if r.status_code != 200 or len(r.json()["items"]) != 5:
                errors.append(r.text)
            versions.add(r.json()["model_version"])

    threads = [threading.Thread(target=hammer) for _ in range(3)]
    for t in threads:
        t.start()
    for n in range(6):
        client.post(f"/v1/models/{(v1, v2)[n % 2]}/activate")
        client.app.state.recommender.refresh()
    stop.set()
    for t in threads:
        t.join()
    assert not errors and versions <= {v1, v2} and len(versions) == 2


def test_sqlite_reads_never_wait_for_the_write_pool(trained):
    """On SQLite answers are read on the event loop; with every connection of the write pool held (by writes
    in the thread pool, say) they still come, from a pool of their own."""
    client, _ = trained
    if not client.app.state.settings.is_sqlite:
        pytest.skip("PostgreSQL answers run in the thread pool")
    engine = client.app.state.engine
    engine.pool._timeout = 0.5  # a wait for this pool fails fast instead of stalling the test for 30 s
    held = []
    try:
        while True:
            held.append(engine.connect())
    except Exception:  # the pool is exhausted
        pass
    try:
        assert len(held) >= 1
        assert recs(client, "u1", k=3)["strategy"] == "personalized"
    finally:
        for conn in held:
            conn.close()
