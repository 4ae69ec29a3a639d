"""Impressions through real servers: a clean shutdown (SIGTERM) writes what was still in memory, and an
answer one API process showed credits an event posted to another (PostgreSQL), once the first has flushed."""

import signal
import time

import pytest
from sqlalchemy import create_engine, func, select

from app.core.config import Settings
from app.store.models import Impression
from scripts.lib import service

pytestmark = pytest.mark.e2e
SIGTERM_EXIT = (0, -signal.SIGTERM)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    with service.fresh_store(request.param, tmp_path) as url:
        yield url


def shown(database_url: str, recommendation_id: str) -> int:
    """Impression rows of one answer, read from the store directly."""
    engine = create_engine(Settings(database_url=database_url, _env_file=None).sqlalchemy_url)
    try:
        with engine.connect() as conn:
            return conn.scalar(select(func.count()).select_from(Impression)
                               .where(Impression.recommendation_id == recommendation_id))
    finally:
        engine.dispose()


def seed(http) -> None:
    items = [{"item_id": f"sku-{n}", "title": f"Item {n}"} for n in range(8)]
    assert http.post("/v1/items/batch", json={"items": items}).status_code == 200
    events = [{"user_id": f"p{u}", "item_id": f"sku-{n}", "type": "view"} for n in range(8) for u in range(8 - n)]
    assert http.post("/v1/interactions", json={"interactions": events}).status_code == 200


def test_sigterm_writes_the_impressions_still_in_memory(store_url, tmp_path):
    env = service.service_env(store_url, tmp_path / "data", SEMREC_IMPRESSIONS_FLUSH_SECONDS="60")
    api = service.Api(env, tmp_path / "api.log").wait_ready()
    try:
        with api.client() as http:
            seed(http)
            answer = http.get("/v1/trending?k=5").json()
        assert len(answer["items"]) == 5
        assert shown(store_url, answer["recommendation_id"]) == 0  # the next flush is a minute away
        assert api.terminate() in SIGTERM_EXIT, api.log_tail()
        assert shown(store_url, answer["recommendation_id"]) == 5
    finally:
        api.terminate()


def test_an_answer_of_one_process_credits_an_event_posted_to_another(tmp_path):
    with service.fresh_store("postgresql", tmp_path) as url:
        env = service.service_env(url, tmp_path / "data", SEMREC_IMPRESSIONS_FLUSH_SECONDS="0.2")
        a = service.Api(env, tmp_path / "a.log").wait_ready()
        b = service.Api(env, tmp_path / "b.log").wait_ready()
        try:
            with a.client() as http_a, b.client() as http_b:
                seed(http_a)
                answer = http_a.get("/v1/users/u1/recommendations?k=3").json()
                deadline = time.monotonic() + 30
                while shown(url, answer["recommendation_id"]) < 3:  # A's flush, at most 0.2 s away
                    assert time.monotonic() < deadline, a.log_tail()
                    time.sleep(0.05)
                first, second = (i["item_id"] for i in answer["items"][:2])
                rid = answer["recommendation_id"]
                r = http_b.post("/v1/interactions", json={"interactions": [
                    {"user_id": "u9", "item_id": first, "type": "click", "recommendation_id": rid},
                    {"user_id": "u1", "item_id": second, "type": "purchase"}]})
                assert r.status_code == 200, r.text
                assert r.json()["attributed"] == {"recommendation_id": 1, "last_shown": 1, "unattributed": 0}
                figures = http_b.get("/v1/metrics/online?by=route").json()["groups"]
                assert [(g["key"], g["impressions"], g["clicks"], g["purchases"]) for g in figures] == [
                    ("recommendations", 3, 1, 1)]
        finally:
            b.terminate()
            a.terminate()
