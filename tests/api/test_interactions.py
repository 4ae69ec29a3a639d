from datetime import UTC, datetime

from tests.utils import event, snapshot


def post(client, *events):
    return client.post("/v1/interactions", json={"interactions": list(events)})


def test_unknown_users_and_items_are_created_bare(client):
    r = post(client, event("u1", "i1"), event("u1", "i2"), event("u2", "i1", "rating", value=4))
    assert r.json() == {"accepted": 3, "duplicates": 0, "created_users": 2, "created_items": 2,
                        "attributed": {"recommendation_id": 0, "last_shown": 0, "unattributed": 2}}
    bare = client.get("/v1/items/i2").json()
    assert bare["title"] is None and bare["available"] is True
    assert client.get("/v1/users/u2").status_code == 200
    r = post(client, event("u1", "i1"))
    assert r.json() == {"accepted": 1, "duplicates": 0, "created_users": 0, "created_items": 0,
                        "attributed": {"recommendation_id": 0, "last_shown": 0, "unattributed": 1}}


def test_event_id_makes_resend_harmless(client, sessions):
    batch = [event("u1", "i1", event_id="e1"), event("u1", "i2", event_id="e2"), event("u1", "i3")]
    assert post(client, *batch).json()["accepted"] == 3
    before = snapshot(sessions)["interactions"]
    r = post(client, *batch[:2])
    assert r.json() == {"accepted": 0, "duplicates": 2, "created_users": 0, "created_items": 0,
                        "attributed": {"recommendation_id": 0, "last_shown": 0, "unattributed": 0}}
    assert snapshot(sessions)["interactions"] == before
    # A repeat inside one batch is a duplicate too.
    r = post(client, event("u9", "i9", event_id="e9"), event("u9", "i9", event_id="e9"))
    assert r.json()["accepted"] == 1 and r.json()["duplicates"] == 1


def test_listing_is_newest_first_and_times_are_utc(client):
    post(client,
         event("u1", "old", timestamp="2026-01-01T10:00:00"),
         event("u1", "new", timestamp="2026-01-02T10:00:00+02:00"),
         event("u1", "mid", timestamp="2026-01-01T12:00:00Z"))
    got = client.get("/v1/users/u1/interactions").json()["interactions"]
    assert [g["item_id"] for g in got] == ["new", "mid", "old"]
    times = [datetime.fromisoformat(g["timestamp"]) for g in got]
    assert times[0] == datetime(2026, 1, 2, 8, 0, tzinfo=UTC)
    assert times[2] == datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    assert all(t.utcoffset() is not None for t in times)
    assert len(client.get("/v1/users/u1/interactions?limit=2").json()["interactions"]) == 2
    assert client.get("/v1/users/u1/interactions?limit=0").status_code == 422
    assert client.get("/v1/users/nobody/interactions").status_code == 404


def test_default_timestamp_is_receipt_time(client):
    before = datetime.now(UTC)
    post(client, event("u1", "i1"))
    ts = datetime.fromisoformat(client.get("/v1/users/u1/interactions").json()["interactions"][0]["timestamp"])
    assert before <= ts <= datetime.now(UTC)


def test_review_text_is_kept(client):
    post(client, event("u1", "i1", "rating", value=5, text="Great grip"))
    got = client.get("/v1/users/u1/interactions").json()["interactions"][0]
    assert got["text"] == "Great grip" and got["value"] == 5


def test_context_is_kept_and_listed_back(client):
    post(client, event("u1", "i1", context={"device": "mobile", "location": "DE-BE"}),
         event("u1", "i2", timestamp="2026-01-01T00:00:00Z", context={"device": "desktop"}),
         event("u1", "i3", timestamp="2025-01-01T00:00:00Z"))
    got = {g["item_id"]: g["context"] for g in client.get("/v1/users/u1/interactions").json()["interactions"]}
    assert got == {"i1": {"device": "mobile", "location": "DE-BE"}, "i2": {"device": "desktop"}, "i3": None}


def test_bad_events_name_the_field_and_store_nothing(client, sessions):
    good = event("u1", "i1")
    cases = [
        (event("u1", "i1", "rating"), "interactions[1].value"),
        (event("u1", "i1", "rating", value=6), "interactions[1].value"),
        (event("u1", "i1", "rating", value=0.5), "interactions[1].value"),
        (event("u1", "i1", "like"), "interactions[1].type"),
        (event("u 1", "i1"), "interactions[1].user_id"),
        (event("u1", "i1", event_id="#x"), "interactions[1].event_id"),
        (event("u1", "i1", timestamp="yesterday"), "interactions[1].timestamp"),
        (event("u1", "i1", timestamp="0001-01-01T00:00:00+05:00"), "interactions[1].timestamp"),
        (event("u1", "i1", text="x" * 20_001), "interactions[1].text"),
        (event("u1", "i1", value=-1), "interactions[1].value"),
        ({"user_id": "u1", "type": "view"}, "interactions[1].item_id"),
        (event("u1", "i1", context={"device": "x" * 65}), "interactions[1].context.device"),
        (event("u1", "i1", context={"location": ""}), "interactions[1].context.location"),
        (event("u1", "i1", context={"location": 3}), "interactions[1].context.location"),
    ]
    for bad, field in cases:
        r = post(client, good, bad)
        assert r.status_code == 422, bad
        assert field in r.json()["detail"], (bad, r.json())
    assert snapshot(sessions)["interactions"] == []


def test_large_batch_in_one_request(client, sessions):
    events = [event(f"u{n % 500}", f"i{n % 2000}", "rating", value=1 + n % 5, event_id=f"e{n}") for n in range(10_000)]
    r = post(client, *events)
    assert r.json() == {"accepted": 10_000, "duplicates": 0, "created_users": 500, "created_items": 2000,
                        "attributed": {"recommendation_id": 0, "last_shown": 0, "unattributed": 0}}
    assert post(client, *events).json()["duplicates"] == 10_000
    assert len(snapshot(sessions)["interactions"]) == 10_000
    assert post(client, *events, event("u", "i")).status_code == 422  # 10,001


def test_commit_happens_before_the_answer(client, sessions):
    """A 2xx means committed: the session dependency must close (commit) before the response is sent.
    (Seen once over real HTTP: an acknowledged batch not yet visible to the next request.)"""
    from app.api.deps import SessionDep

    assert SessionDep.__metadata__[0].scope == "function"
    r = post(client, event("u1", "i1", event_id="ack-1"))
    assert r.status_code == 200
    assert len(snapshot(sessions)["interactions"]) == 1
