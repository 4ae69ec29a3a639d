"""The Consistency promises of the API (shared API.md), over HTTP against real servers: what a 2xx promises the
next request, on any API process. On PostgreSQL: one server with `--workers 2`, a second API process and a
separate `python -m app.worker`; writes go through one, reads through all. On SQLite: one server running its
own jobs. The background refresh is set to an hour, so nothing here can pass by waiting for it."""

import math
import time

import httpx
import numpy as np
import pytest

from scripts.lib import service

pytestmark = pytest.mark.e2e


@pytest.fixture(params=["sqlite", "postgresql"])
def cluster(request, tmp_path):
    """(the write client, the read clients) over the processes of one store."""
    with service.fresh_store(request.param, tmp_path) as url:
        env = service.service_env(url, tmp_path / "data", SEMREC_REFRESH_SECONDS="3600")
        processes = []
        try:
            if request.param == "postgresql":
                processes.append(service.Api(env, tmp_path / "api-a.log", workers=2))
                processes.append(service.Api(env, tmp_path / "api-b.log"))
                processes.append(service.start_worker(env, tmp_path / "worker.log"))
            else:
                processes.append(service.Api(env, tmp_path / "api-a.log"))
            apis = [p.wait_ready() for p in processes if isinstance(p, service.Api)]
            # No keep-alive: every request takes a new connection, so `--workers 2` spreads them over both.
            clients = [httpx.Client(base_url=a.base, headers={"X-API-Key": service.WRITE_KEY}, timeout=60,
                                    limits=httpx.Limits(max_keepalive_connections=0)) for a in apis]
            yield clients[0], clients
        finally:
            for p in processes:
                p.terminate()


def _train(http: httpx.Client) -> str:
    job = http.post("/v1/training/jobs", json={}).json()
    deadline = time.monotonic() + 300
    while (state := http.get(f"/v1/jobs/{job['job_id']}").json())["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, state
        time.sleep(0.2)
    assert state["status"] == "succeeded", state
    return state["result"]["model_version"]


def _reads(readers, path: str, repeat: int = 4, **params) -> list[dict]:
    """The same GET through every API process (and, with fresh connections, through each of its workers)."""
    out = []
    for http in readers:
        for _ in range(repeat):
            r = http.get(path, params=params)
            assert r.status_code == 200, r.text
            out.append(r.json())
            assert all(math.isfinite(i["score"]) for i in out[-1]["items"]), out[-1]
    return out


def test_every_process_answers_a_write_in_its_next_request(cluster):
    writer, readers = cluster
    writer.post("/v1/items/batch", json={"items": [
        {"item_id": f"i{n}", "title": f"Item {n} of kind {n % 3}", "category": f"c{n % 3}", "price": float(n)}
        for n in range(45)]})
    rng = np.random.default_rng(0)
    events = [{"user_id": f"u{u}", "item_id": f"i{n}", "type": "click", "event_id": f"e{u}-{n}"}
              for u in range(24) for n in rng.choice([m for m in range(45) if m % 3 == u % 3], 6, replace=False)]
    assert writer.post("/v1/interactions", json={"interactions": events}).status_code == 200

    # Before any training: lists fill k from what is stored, on every process.
    for answer in _reads(readers, "/v1/users/u0/recommendations", k=5):
        assert answer["model_version"] is None and len(answer["items"]) == 5

    # Once the job reports succeeded, every answer is that version.
    first = _train(writer)
    for answer in _reads(readers, "/v1/users/u0/recommendations", k=5):
        assert answer["model_version"] == first and len(answer["items"]) == 5

    # A new item: in the catalog at once (k filled within its new category), and /similar of it answers.
    assert writer.put("/v1/items/fresh-1", json={"title": "Fresh thing", "category": "new", "price": 3}).status_code \
        == 200
    for answer in _reads(readers, "/v1/users/u0/recommendations", k=1, category="new"):
        assert [i["item_id"] for i in answer["items"]] == ["fresh-1"]
    for answer in _reads(readers, "/v1/items/fresh-1/similar", k=3):
        assert len(answer["items"]) == 3 and "fresh-1" not in {i["item_id"] for i in answer["items"]}

    # A deleted item and an unavailable one are in no later answer.
    top = [i["item_id"] for i in _reads(readers, "/v1/users/u0/recommendations", repeat=1, k=2)[0]["items"]]
    assert writer.delete(f"/v1/items/{top[0]}").status_code == 204
    assert writer.put(f"/v1/items/{top[1]}", json={"title": "gone for now", "available": False}).status_code == 200
    for answer in _reads(readers, "/v1/users/u0/recommendations", k=40):
        assert not {i["item_id"] for i in answer["items"]} & set(top)
    other = next(f"i{n}" for n in range(45) if f"i{n}" not in top)
    for answer in _reads(readers, f"/v1/items/{other}/similar", k=40):
        assert not {i["item_id"] for i in answer["items"]} & set(top)

    # A user's new event counts in their next answer: the item is seen, so left out.
    shown = _reads(readers, "/v1/users/u0/recommendations", repeat=1, k=1)[0]["items"][0]["item_id"]
    writer.post("/v1/interactions", json={"interactions": [{"user_id": "u0", "item_id": shown, "type": "click"}]})
    for answer in _reads(readers, "/v1/users/u0/recommendations", k=10):
        assert shown not in {i["item_id"] for i in answer["items"]}

    # A second version, then a rollback to the first: every answer follows the activation at once.
    second = _train(writer)
    for answer in _reads(readers, "/v1/users/u1/recommendations", k=3):
        assert answer["model_version"] == second
    assert writer.post(f"/v1/models/{first}/activate").status_code == 200
    for answer in _reads(readers, "/v1/users/u1/recommendations", k=3):
        assert answer["model_version"] == first
    ranked = readers[-1].post("/v1/users/u1/rank", json={"item_ids": ["i1", "i2", "fresh-1"]}).json()
    assert ranked["model_version"] == first and len(ranked["items"]) == 3


def test_popularity_follows_new_events_within_seconds(tmp_path):
    """No model yet, so a new visitor gets the most popular items: new events reorder them within a refresh."""
    with service.fresh_store("sqlite", tmp_path) as url:
        api = service.Api(service.service_env(url, tmp_path / "data", SEMREC_REFRESH_SECONDS="1"), tmp_path / "api.log")
        try:
            http = httpx.Client(base_url=api.wait_ready().base, headers={"X-API-Key": service.WRITE_KEY})
            http.post("/v1/items/batch", json={"items": [{"item_id": f"i{n}", "title": f"Item {n}"}
                                                         for n in range(5)]})
            http.post("/v1/interactions", json={"interactions": [
                {"user_id": f"u{n}", "item_id": "i1", "type": "view"} for n in range(3)]})
            deadline = time.monotonic() + 10
            while (first := http.get("/v1/users/nobody/recommendations", params={"k": 1}).json())["items"][0][
                    "item_id"] != "i1":
                assert time.monotonic() < deadline, first
                time.sleep(0.2)
            http.post("/v1/interactions", json={"interactions": [
                {"user_id": f"v{n}", "item_id": "i4", "type": "view"} for n in range(5)]})
            deadline = time.monotonic() + 10
            while (top := http.get("/v1/users/nobody/recommendations", params={"k": 2}).json()["items"]) and \
                    [i["item_id"] for i in top] != ["i4", "i1"]:
                assert time.monotonic() < deadline, top
                time.sleep(0.2)
            assert [i["score"] for i in top] == [5.0, 3.0]
        finally:
            api.terminate()
