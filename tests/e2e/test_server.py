"""End to end: a real uvicorn server in its own process, spoken to over HTTP, on SQLite and PostgreSQL."""

import os
import time

import httpx
import pytest

from scripts.lib.service import Api, start_worker
from tests.conftest import clean_store

pytestmark = pytest.mark.e2e


@pytest.fixture
def server(database_url, tmp_path):
    """`python -m app` exactly as the README starts it, with no key configured (so one is generated), on an
    empty store."""
    clean_store(database_url)
    env = {**os.environ, "SEMREC_DATABASE_URL": database_url, "SEMREC_DATA_DIR": str(tmp_path / "var")}
    env.pop("SEMREC_API_KEYS", None)
    api = Api(env, tmp_path / "api.log")
    # On SQLite the API process runs jobs itself; on PostgreSQL a separate worker process does.
    worker = start_worker(env, None) if database_url.startswith("postgresql") else None
    try:
        api.wait_ready(timeout=60)
        key = (tmp_path / "var" / "api_keys").read_text().split(":")[0]
        yield api.base, key, api
    finally:
        for process in (api, worker):
            if process is not None:
                process.terminate(timeout=30)


def test_walkthrough_over_http(server):
    base, key, api = server
    with httpx.Client(base_url=base, headers={"X-API-Key": key}) as http:
        assert http.get("/healthz").json() == {"status": "ok"}
        r = http.put("/v1/items/sku-1", json={"title": "Trail running shoes", "price": 89.9})
        assert r.status_code == 200 and r.json()["title"] == "Trail running shoes"
        r = http.post("/v1/items/batch", json={"items": [{"item_id": f"sku-{n}", "title": f"Item {n}"}
                                                         for n in range(2, 100)]})
        assert r.json() == {"upserted": 98}
        assert http.put("/v1/users/u-42", json={"profile_text": "trail runner"}).status_code == 200
        r = http.post("/v1/interactions", json={"interactions": [
            {"user_id": "u-42", "item_id": "sku-1", "type": "rating", "value": 5, "event_id": "e1"},
            {"user_id": "u-43", "item_id": "sku-1000", "type": "purchase", "event_id": "e2"},
        ]})
        assert r.json() == {"accepted": 2, "duplicates": 0, "created_users": 1, "created_items": 1,
                            "attributed": {"recommendation_id": 0, "last_shown": 0, "unattributed": 1}}
        listed = http.get("/v1/users/u-42/interactions").json()["interactions"]
        assert [e["item_id"] for e in listed] == ["sku-1"]
        for n in range(30):  # read-after-acknowledge: a 2xx means committed, visible to the next request
            http.post("/v1/interactions", json={"interactions": [
                {"user_id": "u-raw", "item_id": "sku-2", "type": "view", "event_id": f"raw-{n}"}]})
            assert len(http.get("/v1/users/u-raw/interactions?limit=1000").json()["interactions"]) == n + 1
        bad = http.post("/v1/interactions", json={"interactions": [{"user_id": "u", "item_id": "i", "type": "rating"}]})
        assert bad.status_code == 422 and "interactions[0].value" in bad.json()["detail"]
        assert http.get("/v1/items/sku-1", headers={"X-API-Key": "nope"}).status_code == 401
        assert "semrec_http_requests_total" in http.get("/metrics").text
        assert "swagger-ui" in http.get("/docs").text

        job = http.post("/v1/embeddings/jobs", json={"target": "all"}).json()
        deadline = time.monotonic() + 120
        while (state := http.get(f"/v1/jobs/{job['job_id']}").json())["status"] in ("queued", "running"):
            assert time.monotonic() < deadline, state
            time.sleep(0.5)
        assert state["status"] == "succeeded", state
        assert state["progress"] == {"done": 100, "total": 100}  # 99 titled items + the user with a profile
        assert http.get("/v1/items/sku-1").json()["embedded"] is True
    api.terminate(timeout=20)
    output = api.log_tail(10**7)
    assert key in output  # the generated key is printed once, at first start
    assert "Traceback" not in output
