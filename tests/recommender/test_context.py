"""Context, segments and reasons on a planted shop, on SQLite and PostgreSQL: coffee is bought in the morning
and on phones, wine in the evening; one group of shoppers buys mostly coffee (and books), one mostly wine (and
books), one coffee and wine alike."""

from collections import Counter

import numpy as np
import pytest

from app.worker.runner import Worker
from tests.conftest import READ_KEY, open_client

READ = {"X-API-Key": READ_KEY}
KINDS = {"coffee": range(0, 12), "wine": range(12, 24), "books": range(24, 40)}
GROUPS = {"coffee": range(0, 30), "wine": range(30, 60), "both": range(60, 90)}


def kind_of(item_id: str) -> str:
    n = int(item_id[1:])
    return next(k for k, r in KINDS.items() if n in r)


@pytest.fixture
def shop(settings, packaged_encoder):
    with open_client(settings.model_copy(update={"embedded_worker": False, "refresh_seconds": 3600,
                                                 "segments": 3})) as client:
        client.post("/v1/items/batch", json={"items": [
            {"item_id": f"i{n}", "title": f"{kind.capitalize()} no. {n}", "category": kind}
            for kind, r in KINDS.items() for n in r]})
        rng = np.random.default_rng(0)
        events = []
        for group, users in GROUPS.items():
            likes = {"coffee": ["coffee", "coffee", "books"], "wine": ["wine", "wine", "books"],
                     "both": ["coffee", "wine"]}[group]
            for u in users:
                for day in range(12):
                    kind = likes[day % len(likes)]
                    n = int(rng.choice(list(KINDS[kind])))
                    hour = {"coffee": 7 + day % 3, "wine": 19 + day % 3}.get(kind, int(rng.integers(0, 24)))
                    device = "mobile" if kind == "coffee" else ("desktop" if kind == "wine" else "tablet")
                    events.append({"user_id": f"u{u}", "item_id": f"i{n}", "type": "purchase",
                                   "timestamp": f"2026-03-{1 + day:02d}T{hour:02d}:15:00Z",
                                   "context": {"device": device, "location": "DE"}})
        assert client.post("/v1/interactions", json={"interactions": events}).status_code == 200
        r = client.post("/v1/training/jobs", json={"epochs": 30, "factors": 8})
        Worker(client.app.state.sessions, client.app.state.settings, encoder=packaged_encoder).run_once()
        job = client.get(f"/v1/jobs/{r.json()['job_id']}").json()
        assert job["status"] == "succeeded", job["error"]
        client.app.state.recommender.refresh()
        yield client


def kinds(client, user: str, **params) -> Counter:
    r = client.get(f"/v1/users/{user}/recommendations", params={"k": 6, **params}, headers=READ)
    assert r.status_code == 200, r.text
    return Counter(kind_of(i["item_id"]) for i in r.json()["items"])


@pytest.mark.parametrize("user", ["u60", "u75", "visitor"])  # shoppers of both, and someone the store never saw
def test_the_time_of_day_moves_the_list_the_planted_way(shop, user):
    morning = kinds(shop, user, at="2026-04-01T08:00:00Z", exclude_seen=False)
    evening = kinds(shop, user, at="2026-04-01T20:00:00+00:00", exclude_seen=False)
    assert morning["coffee"] > evening["coffee"], (morning, evening)
    assert evening["wine"] > morning["wine"], (morning, evening)


def test_the_device_moves_the_list_and_post_takes_the_same_context(shop):
    phone = kinds(shop, "u61", device="mobile", exclude_seen=False)
    desktop = kinds(shop, "u61", device="desktop", exclude_seen=False)
    assert phone["coffee"] > desktop["coffee"] and desktop["wine"] > phone["wine"], (phone, desktop)
    got = shop.post("/v1/recommendations", json={"user_id": "u61", "k": 6, "exclude_seen": False,
                                                 "context": {"device": "mobile"}}, headers=READ).json()
    assert Counter(kind_of(i["item_id"]) for i in got["items"]) == phone


def test_unknown_values_change_nothing_and_bad_ones_are_422(shop):
    plain = shop.get("/v1/users/u62/recommendations", params={"k": 8}, headers=READ).json()["items"]
    for params in ({"device": "toaster"}, {"location": "Atlantis"}, {"device": "toaster", "location": "XX"}):
        got = shop.get("/v1/users/u62/recommendations", params={"k": 8, **params}, headers=READ).json()["items"]
        assert got == plain, params
    bad = (({"at": "yesterday"}, "at"), ({"device": "x" * 65}, "device"), ({"location": ""}, "location"))
    for params, field in bad:
        r = shop.get("/v1/users/u62/recommendations", params=params, headers=READ)
        assert r.status_code == 422 and field in r.json()["detail"], r.text
    r = shop.post("/v1/recommendations", json={"user_id": "u62", "context": {"timestamp": "soon"}}, headers=READ)
    assert r.status_code == 422 and "context.timestamp" in r.json()["detail"]


def test_segments_follow_the_planted_tastes(shop):
    listed = shop.get("/v1/segments").json()
    assert listed["model_version"] and len(listed["segments"]) == 3
    assert sum(s["size"] for s in listed["segments"]) == 90
    by_id = {s["segment_id"]: s for s in listed["segments"]}
    modal = {}
    for group in ("coffee", "wine"):
        found = Counter(shop.get(f"/v1/users/u{u}").json()["segment"]["segment_id"] for u in GROUPS[group])
        segment, count = found.most_common(1)[0]
        assert count >= 0.8 * len(GROUPS[group]), (group, found)
        assert by_id[segment]["top_categories"][0] == group, by_id[segment]
        assert group in by_id[segment]["label"].lower()
        members = shop.get(f"/v1/segments/{segment}/users", params={"limit": 1000}).json()["users"]
        assert len(members) == by_id[segment]["size"]
        assert sum(m in {f"u{u}" for u in GROUPS[group]} for m in members) == count
        modal[group] = segment
    assert modal["coffee"] != modal["wine"]
    assert shop.get("/v1/segments/3/users").status_code == 404
    assert shop.get("/v1/segments", headers=READ).status_code == 403
    # An erased user is listed nowhere.
    shop.delete("/v1/users/u0")
    assert "u0" not in shop.get(f"/v1/segments/{modal['coffee']}/users", params={"limit": 1000}).json()["users"]


def test_reasons_are_present_and_true(shop):
    mine = {e["item_id"] for e in shop.get("/v1/users/u3/interactions", params={"limit": 1000}).json()["interactions"]}
    titles = {f"{kind.capitalize()} no. {n}" for n in map(lambda i: int(i[1:]), mine) for kind in [kind_of(f"i{n}")]}
    got = shop.get("/v1/users/u3/recommendations", params={"k": 10, "explain": "true"}, headers=READ).json()
    assert all(i["because"] for i in got["items"])
    named = [i["because"] for i in got["items"] if i["because"].startswith("like ")]
    assert named, got
    for reason in named:
        assert reason.removeprefix("like ").removesuffix(", which you had") in titles, reason
    timed = shop.get("/v1/users/visitor/recommendations", headers=READ,
                     params={"k": 5, "explain": "true", "at": "2026-04-01T08:00:00Z"}).json()["items"]
    assert any(i["because"] == "often chosen around 08:00 UTC" for i in timed), timed
    plain = shop.get("/v1/users/u3/recommendations", params={"k": 3}, headers=READ).json()["items"]
    assert all("because" not in i for i in plain)


def test_a_query_alone_is_explained_by_its_words_or_its_meaning_never_by_a_profile(shop):
    got = shop.post("/v1/recommendations", headers=READ,
                    json={"query": "a warm drink for cold mornings", "k": 5, "explain": True}).json()
    assert got["strategy"] == "text" and len(got["items"]) == 5
    reasons = [i["because"] for i in got["items"]]
    assert all(r.startswith(("matches '", "close in meaning to 'a warm drink for cold mornings'")) for r in reasons)
