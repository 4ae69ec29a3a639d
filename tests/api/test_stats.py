"""The store at a glance (`/v1/stats`) and a key's role (`/v1/key`), on SQLite and PostgreSQL."""

from tests.conftest import READ_KEY
from tests.utils import event, item


def test_counts_follow_every_write(client):
    assert client.get("/v1/stats").json() | {"newest_event": None} == {
        "items": 0, "available_items": 0, "users": 0, "events": 0, "events_by_type": {}, "embedded_items": 0,
        "embedded_users": 0, "newest_event": None, "events_per_day": []}
    client.post("/v1/items/batch", json={"items": [item(n) for n in range(5)]})
    client.put("/v1/items/sku-4", json={"title": "gone soon", "available": False})
    client.post("/v1/interactions", json={"interactions": [
        event("u-1", "sku-0", timestamp="2026-11-01T23:30:00-02:00"),  # 2026-11-02 in UTC
        event("u-1", "sku-1", "purchase", timestamp="2026-11-02T08:00:00+00:00"),
        event("u-2", "sku-2", timestamp="2026-10-20T12:00:00+00:00"),
        event("u-2", "sku-2", "view", timestamp="2026-06-01T12:00:00+00:00")]})
    got = client.get("/v1/stats").json()
    assert (got["items"], got["available_items"], got["users"], got["events"]) == (5, 4, 2, 4)
    assert got["events_by_type"] == {"click": 2, "purchase": 1, "view": 1}
    assert got["newest_event"].startswith("2026-11-02T08:00:00")
    # UTC days, the last 90 up to the newest event: June's view is older, and days without events are left out.
    assert got["events_per_day"] == [{"day": "2026-10-20", "events": 1}, {"day": "2026-11-02", "events": 2}]
    assert [d["day"] for d in client.get("/v1/stats?days=1").json()["events_per_day"]] == ["2026-11-02"]
    client.delete("/v1/items/sku-3")
    client.delete("/v1/users/u-2")
    got = client.get("/v1/stats").json()
    assert (got["items"], got["users"], got["events"]) == (4, 1, 2)  # the next answer counts each write


def test_days_out_of_range_name_the_field(client):
    r = client.get("/v1/stats?days=0")
    assert r.status_code == 422 and "days" in r.text


def test_the_key_route_tells_the_role_and_stats_need_write(client):
    assert client.get("/v1/key").json() == {"role": "write"}
    read = {"X-API-Key": READ_KEY}
    assert client.get("/v1/key", headers=read).json() == {"role": "read"}
    assert client.get("/v1/stats", headers=read).status_code == 403
    assert client.get("/v1/key", headers={"X-API-Key": "nope"}).status_code == 401
