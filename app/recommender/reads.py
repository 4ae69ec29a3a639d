"""The request path's reads of the store, built once (building a statement costs more than SQLite takes to run
it): per answer, the serving epoch together with the user's latest events in one round trip (by the
``(user_id, ts)`` index), and where needed their text vector, their profile, or whether an item is live."""

from __future__ import annotations

import numpy as np
from sqlalchemy import Connection, bindparam, literal, select

from app.model.serving import ServingModel
from app.recommender.state import State
from app.store.models import Embedding, Interaction, Item, ServingEpoch, User

RECENT_EVENTS = 500  # a user's latest events read per answer, at most


def _epoch_and_events(since: bool):
    """The serving epoch and the user's latest events in one round trip: one row even without events."""
    events = select(Interaction.id, Interaction.item_id, Interaction.type, Interaction.value, Interaction.ts) \
        .where(Interaction.user_id == bindparam("user_id"))
    if since:
        events = events.where(Interaction.received_at > bindparam("since"))
    events = events.order_by(Interaction.ts.desc(), Interaction.id.desc()).limit(RECENT_EVENTS).subquery()
    return (select(ServingEpoch.epoch, events.c.id, events.c.item_id, events.c.type, events.c.value)
            .select_from(ServingEpoch).outerjoin(events, literal(True)).where(ServingEpoch.id == 1)
            .order_by(events.c.ts.desc(), events.c.id.desc()))


_EVENTS = _epoch_and_events(since=False)
_EVENTS_SINCE = _epoch_and_events(since=True)
_USER_TEXT = select(Embedding.vector).where(Embedding.owner_kind == "user", Embedding.owner_id == bindparam("user_id"),
                                            Embedding.model == bindparam("model"))
_PROFILE = select(User.profile_text).where(User.user_id == bindparam("user_id"))
_LIVE_ITEM = select(Item.item_id).where(Item.item_id == bindparam("item_id"), Item.deleted_at.is_(None))


def events(conn: Connection, state: State, user_id: str) -> tuple[int, list]:
    """(serving epoch, the user's latest events the model has not seen: all of them before any model): what
    training already holds is in the model's factors and its seen-items table."""
    since = state.model.trained_until if state.model is not None else None
    if since is None:
        rows = conn.execute(_EVENTS, {"user_id": user_id}).all()
    else:
        rows = conn.execute(_EVENTS_SINCE, {"user_id": user_id, "since": since}).all()
    return (rows[0].epoch or 0) if rows else 0, [r for r in rows if r.id is not None]


def user_text_vector(conn: Connection, model: ServingModel, user_id: str) -> np.ndarray | None:
    blob = conn.scalar(_USER_TEXT, {"user_id": user_id, "model": model.trained.encoder_model})
    return None if blob is None else np.frombuffer(blob, dtype="<f4")


def profile(conn: Connection, user_id: str) -> str | None:
    return conn.scalar(_PROFILE, {"user_id": user_id})


def item_is_live(conn: Connection, item_id: str) -> bool:
    return conn.scalar(_LIVE_ITEM, {"item_id": item_id}) is not None
