"""A conversation continues on any API process (shared API.md, Conversations): on PostgreSQL, two real API
processes and a worker over one store; each message goes through the other process than the last."""

import httpx
import pytest

from scripts.lib import service
from tests.conversation import shop

pytestmark = pytest.mark.e2e


@pytest.fixture
def two_apis(tmp_path):
    with service.fresh_store("postgresql", tmp_path) as url:
        env = service.service_env(url, tmp_path / "data", SEMREC_REFRESH_SECONDS="3600")
        processes = [service.Api(env, tmp_path / "api-a.log"), service.Api(env, tmp_path / "api-b.log"),
                     service.start_worker(env, tmp_path / "worker.log")]
        try:
            a, b = (p.wait_ready().client() for p in processes[:2])
            yield a, b
        finally:
            for p in processes:
                p.terminate()


def _say(http: httpx.Client, cid: str, **body) -> dict:
    r = http.post(f"/v1/conversations/{cid}/messages", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def test_any_process_continues_any_conversation(two_apis):
    a, b = two_apis
    assert a.post("/v1/items/batch", json={"items": shop.items()}).status_code == 200
    events = [{"user_id": f"u{u}", "item_id": f"{list(shop.CATALOG)[u % 4]}-{n}", "type": "click"}
              for u in range(40) for n in range(u % 3, 8, 3)]
    assert a.post("/v1/interactions", json={"interactions": events}).status_code == 200
    job = service.train(a)
    assert job["status"] == "succeeded", job

    cid = a.post("/v1/conversations", json={"user_id": "u1"}).json()["conversation_id"]
    first = _say(b, cid, text="fishing gear under $200", k=2)  # created on A, continued on B
    assert first["model_version"] == job["result"]["model_version"]
    disliked = first["items"][0]["item_id"]
    second = _say(a, cid, feedback=[{"item_id": disliked, "signal": "dislike"}], k=1)
    assert second["understood"]["max_price"] == 200 and second["understood"]["category"] == "fishing"
    shown = {i["item_id"] for i in first["items"] + second["items"]}
    third = _say(b, cid, text="show me more", k=1)  # 5 fit, 3 were shown
    assert disliked not in {i["item_id"] for i in third["items"]}
    assert not shown & {i["item_id"] for i in third["items"]}  # B knows what A showed

    turns = a.get(f"/v1/conversations/{cid}").json()["turns"]
    assert [t["role"] for t in turns] == ["shopper", "assistant"] * 3
    assert turns[2]["feedback"] == [{"item_id": disliked, "signal": "dislike"}]
