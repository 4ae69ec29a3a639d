"""Builders and store readers for tests."""


from sqlalchemy import select

from app.store.models import Interaction, Item, User


def item(n: int, **over) -> dict:
    return {"item_id": f"sku-{n}", "title": f"Item {n}", "category": "c" + str(n % 3), "price": float(n)} | over


def event(user: str, item_id: str, type_: str = "click", **over) -> dict:
    return {"user_id": user, "item_id": item_id, "type": type_} | over


def snapshot(sessions) -> dict:
    """Everything the store holds about users, items and interactions, for before/after comparisons."""
    with sessions() as s:
        return {
            "users": [(u.user_id, u.profile_text, u.attributes, u.updated_at) for u in s.scalars(select(User))],
            "items": sorted(
                (i.item_id, i.title, i.price, i.attributes, i.available, i.updated_at) for i in s.scalars(select(Item))
            ),
            "interactions": sorted(
                (r.user_id, r.item_id, r.type, r.value, r.event_id) for r in s.scalars(select(Interaction))
            ),
        }


def send_case(client, case, key: str):
    """Send a schemathesis case through the test client with a valid key; auth has its own tests."""
    kwargs = case.as_transport_kwargs(base_url="http://testserver")
    kwargs["headers"] = {**(kwargs.get("headers") or {}), "X-API-Key": key}
    if "data" in kwargs:
        kwargs["content"] = kwargs.pop("data")
    kwargs.pop("cookies", None)
    response = client.request(**kwargs)
    assert response.status_code < 500, (case.as_curl_command(), response.text)
    return response
