from sqlalchemy import func, select

from app.store.models import Embedding, Interaction
from tests.utils import snapshot


def test_put_get_user(client):
    r = client.put("/v1/users/u-1", json={"profile_text": "likes trails", "attributes": {"country": "DE"}})
    assert r.status_code == 200, r.text
    got = client.get("/v1/users/u-1").json()
    assert got["profile_text"] == "likes trails" and got["attributes"] == {"country": "DE"}
    assert client.get("/v1/users/u-2").status_code == 404


def test_user_batch_idempotent(client, sessions):
    batch = {"users": [{"user_id": f"u{n}", "profile_text": f"p{n}"} for n in range(20)]}
    assert client.post("/v1/users/batch", json=batch).json() == {"upserted": 20}
    before = snapshot(sessions)
    client.post("/v1/users/batch", json=batch)
    assert snapshot(sessions) == before


def test_erasure_removes_user_interactions_and_vectors(client, sessions):
    client.put("/v1/users/u1", json={"profile_text": "private words"})
    client.post("/v1/interactions", json={"interactions": [
        {"user_id": "u1", "item_id": "i1", "type": "rating", "value": 4, "text": "my review"},
        {"user_id": "u2", "item_id": "i1", "type": "click"},
    ]})
    with sessions.begin() as s:
        s.add(Embedding(owner_kind="user", owner_id="u1", model="m", dim=1, vector=b"\0\0\0\0", text_hash="h"))
    assert client.delete("/v1/users/u1").status_code == 204
    assert client.get("/v1/users/u1").status_code == 404
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Interaction).where(Interaction.user_id == "u1")) == 0
        assert s.scalar(select(func.count()).select_from(Embedding).where(Embedding.owner_id == "u1")) == 0
        assert s.scalar(select(func.count()).select_from(Interaction)) == 1  # others keep theirs
    assert client.delete("/v1/users/u1").status_code == 404


def test_bad_user_fields(client):
    r = client.put("/v1/users/u1", json={"profile_text": 5})
    assert r.status_code == 422 and "profile_text" in r.json()["detail"]
    r = client.put("/v1/users/u1", json={"attributes": [1, 2]})
    assert r.status_code == 422 and "attributes" in r.json()["detail"]
    r = client.put("/v1/users/u1", json={"attributes": {f"k{n}": n for n in range(101)}})
    assert r.status_code == 422 and "attributes" in r.json()["detail"]


def test_item_counts_follow_new_events_duplicates_and_erasure(client, sessions):
    """Popularity's source: each accepted event counts once (a resent event_id does not), erasure subtracts."""
    from app.store.models import ItemCount

    def counts():
        with sessions() as s:
            return dict(s.execute(select(ItemCount.item_id, ItemCount.events)).all())

    batch = {"interactions": [{"user_id": "u1", "item_id": "i1", "type": "click", "event_id": "a"},
                              {"user_id": "u1", "item_id": "i1", "type": "view"},
                              {"user_id": "u2", "item_id": "i1", "type": "view", "event_id": "b"},
                              {"user_id": "u2", "item_id": "i2", "type": "cart"}]}
    client.post("/v1/interactions", json=batch)
    assert counts() == {"i1": 3, "i2": 1}
    client.post("/v1/interactions", json={"interactions": batch["interactions"][:1]})  # a resend
    assert counts() == {"i1": 3, "i2": 1}
    assert client.delete("/v1/users/u2").status_code == 204
    assert counts() == {"i1": 2, "i2": 0}
