"""Experiments over HTTP across processes: two API processes on one PostgreSQL store, the background refresh
set to an hour (nothing here can pass by waiting for it). An experiment written through one counts in the next
answer of the other, both assign every shopper the same variant, and stopping it ends it everywhere."""

import httpx
import pytest

from scripts.lib import service

pytestmark = pytest.mark.e2e


def _variants(http, users) -> dict[str, str | None]:
    out = {}
    for user in users:
        r = http.get(f"/v1/users/{user}/recommendations", params={"k": 3})
        assert r.status_code == 200, r.text
        out[user] = r.json().get("variant")
    return out


def test_two_processes_assign_the_same_variants(tmp_path):
    with service.fresh_store("postgresql", tmp_path) as url:
        env = service.service_env(url, tmp_path / "data", SEMREC_REFRESH_SECONDS="3600",
                                  SEMREC_EMBEDDED_WORKER="false")
        apis = [service.Api(env, tmp_path / "api-a.log"), service.Api(env, tmp_path / "api-b.log")]
        try:
            a, b = (httpx.Client(base_url=api.wait_ready().base, headers={"X-API-Key": service.WRITE_KEY},
                                 timeout=60) for api in apis)
            a.post("/v1/items/batch", json={"items": [{"item_id": f"i{n}", "title": f"Item {n}"} for n in range(10)]})
            users = [f"u{n}" for n in range(30)]
            assert set(_variants(b, users).values()) == {None}  # warm: kept answers in b's cache

            r = a.put("/v1/experiments/xp", json={"method": "ab", "routes": ["recommendations"],
                                                  "variants": [{"name": "a"}, {"name": "b"}]})
            assert r.status_code == 200, r.text
            on_b, on_a = _variants(b, users), _variants(a, users)
            assert on_a == on_b and set(on_b.values()) == {"a", "b"}

            assert a.post("/v1/experiments/xp/stop").json()["status"] == "stopped"
            assert set(_variants(b, users).values()) == {None}
            report = b.get("/v1/experiments/xp").json()
            assert sum(v["lists"] for v in report["variants"]) >= 30  # b's own; a's within a flush interval
        finally:
            for api in apis:
                api.terminate()
