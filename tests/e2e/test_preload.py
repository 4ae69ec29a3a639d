"""``python -m app --workers 2`` with a version already active: the supervisor loads it once and forks the
workers from it (``app.recommender.state.preload``), so that they share its memory. Over HTTP against the
real server: every worker answers from the preloaded version at once, sees a write in its next answer, and
follows a new version and a rollback like any process. SQLite and PostgreSQL."""

import httpx
import pytest

from scripts.lib import service
from tests.e2e.test_consistency import _reads

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_forked_workers_serve_the_preloaded_version_and_follow_the_store(kind, tmp_path):
    with service.fresh_store(kind, tmp_path) as url:
        env = service.service_env(url, tmp_path / "data", SEMREC_REFRESH_SECONDS="3600")
        first_api = service.Api(env, tmp_path / "api-1.log").wait_ready()  # it migrates the schema
        # SQLite: the API runs the jobs itself; PostgreSQL: a worker process does.
        worker = service.start_worker(env, tmp_path / "worker.log") if kind == "postgresql" else None
        try:
            _preload_then_follow(env, tmp_path, first_api)
        finally:
            if worker:
                worker.terminate()


def _preload_then_follow(env: dict, tmp_path, first_api) -> None:
    try:
        with first_api.client() as http:
            service.seed_dataset(http, users=60, items=80, events=900)
            job = service.train(http)
            assert job["status"] == "succeeded", job
            first = job["result"]["model_version"]
    finally:
        first_api.terminate()

    api = service.Api(env, tmp_path / "api-2.log", workers=2).wait_ready()
    try:
        assert f"preloaded model version {first} for 2 forked workers" in api.log_tail(20_000)
        with httpx.Client(base_url=api.base, headers={"X-API-Key": service.WRITE_KEY}, timeout=60,
                          limits=httpx.Limits(max_keepalive_connections=0)) as http:
            for answer in _reads([http], "/v1/users/u1/recommendations", k=5):
                assert answer["model_version"] == first and len(answer["items"]) == 5
            similar = _reads([http], "/v1/items/i3/similar", k=4)
            assert all(len(a["items"]) == 4 for a in similar)

            shown = _reads([http], "/v1/users/u1/recommendations", repeat=1, k=1)[0]["items"][0]["item_id"]
            assert http.post("/v1/interactions", json={"interactions": [
                {"user_id": "u1", "item_id": shown, "type": "click"}]}).status_code == 200
            for answer in _reads([http], "/v1/users/u1/recommendations", k=10):
                assert shown not in {i["item_id"] for i in answer["items"]}

            job = service.train(http)
            assert job["status"] == "succeeded", job
            second = job["result"]["model_version"]
            for answer in _reads([http], "/v1/users/u2/recommendations", k=3):
                assert answer["model_version"] == second
            assert http.post(f"/v1/models/{first}/activate").status_code == 200
            for answer in _reads([http], "/v1/users/u2/recommendations", k=3):
                assert answer["model_version"] == first and len(answer["items"]) == 3
    finally:
        assert api.terminate() == 0
