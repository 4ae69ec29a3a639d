"""Read-your-writes of merchandising rules over HTTP: two API processes on one PostgreSQL store, the rule
written through one and read through both, with the background refresh set to an hour (nothing here can pass
by waiting for it) and each process's answer cache warm before every write."""

import httpx
import pytest

from scripts.lib import service

pytestmark = pytest.mark.e2e


def _lists(readers, **params) -> list[dict]:
    out = []
    for http in readers:
        for _ in range(2):
            r = http.get("/v1/users/nobody/recommendations", params={"k": 3, **params})
            assert r.status_code == 200, r.text
            out.append(r.json())
    return out


def test_a_rule_counts_in_the_next_answer_of_every_process(tmp_path):
    with service.fresh_store("postgresql", tmp_path) as url:
        env = service.service_env(url, tmp_path / "data", SEMREC_REFRESH_SECONDS="3600",
                                  SEMREC_EMBEDDED_WORKER="false")
        apis = [service.Api(env, tmp_path / "api-a.log"), service.Api(env, tmp_path / "api-b.log")]
        try:
            readers = [httpx.Client(base_url=a.wait_ready().base, headers={"X-API-Key": service.WRITE_KEY},
                                    timeout=60) for a in apis]
            writer = readers[0]
            writer.post("/v1/items/batch", json={"items": [{"item_id": f"i{n}", "title": f"Item {n}"}
                                                           for n in range(10)]})
            writer.post("/v1/interactions", json={"interactions": [
                {"user_id": f"u{m}", "item_id": f"i{n}", "type": "view"} for n in range(10) for m in range(10 - n)]})
            plain = [[i["item_id"] for i in a["items"]] for a in _lists(readers)]
            assert plain == [["i0", "i1", "i2"]] * 4

            assert writer.put("/v1/rules/pin-9", json={"action": "pin", "items": {"item_ids": ["i9"]},
                                                       "position": 1}).status_code == 201
            for answer in _lists(readers):
                assert [i["item_id"] for i in answer["items"]] == ["i9", "i0", "i1"] and answer["rules"] == ["pin-9"]
                assert answer["items"][0]["because"] == "pinned by the shop"

            assert writer.put("/v1/rules/pin-9", json={"action": "pin", "items": {"item_ids": ["i9"]},
                                                       "position": 1, "active": False}).status_code == 200
            for answer in _lists(readers):
                assert [i["item_id"] for i in answer["items"]] == ["i0", "i1", "i2"] and "rules" not in answer

            writer.put("/v1/rules/bury-0", json={"action": "bury", "items": {"item_ids": ["i0"]}, "factor": 0.1})
            for answer in _lists(readers):
                assert [i["item_id"] for i in answer["items"]] == ["i1", "i2", "i3"]
            assert writer.delete("/v1/rules/bury-0").status_code == 204
            for answer in _lists(readers):
                assert [i["item_id"] for i in answer["items"]] == ["i0", "i1", "i2"]
        finally:
            for a in apis:
                a.terminate()
