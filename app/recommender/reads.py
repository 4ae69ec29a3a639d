"""The request path's reads of the store, built once and compiled once per dialect (building a statement
costs more than SQLite takes to run it): per answer, the serving epoch together with the user's latest events in
one round trip (by the ``(user_id, ts)`` index), and where needed their text vector, their profile, or whether
an item is live."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from sqlalchemy import Connection, bindparam, literal, select
from sqlalchemy.sql import Select

from app.model.serving import ServingModel
from app.recommender.state import EPOCH, State
from app.store.models import Embedding, Interaction, Item, ServingEpoch, User

RECENT_EVENTS = 500  # a user's latest events read per answer, at most


class StoredEvent(NamedTuple):
    """One of a user's latest events, as the ranking reads it."""

    id: int
    item_id: str
    type: str
    value: float | None


class Read:
    """A read of the request path run on the driver's own cursor, its statement compiled once per dialect:
    SQLAlchemy's execution layer (a cache key, an execution context, a wrapped result) costs more per call than
    SQLite takes to run these statements (docs/serving.md, "Seventh round"). Values are bound through the
    columns' own types, as ``Connection.execute`` binds them."""

    def __init__(self, statement: Select) -> None:
        self.statement = statement
        self._compiled: dict[str, tuple[str, list[str] | None, dict[str, Any], dict[str, Any]]] = {}

    def rows(self, conn: Connection, **values: Any) -> list[tuple]:
        sql, order, defaults, processors = self._compiled.get(conn.dialect.name) or self._compile(conn)
        bound = defaults | {name: processors[name](v) if name in processors else v for name, v in values.items()}
        cursor = conn.connection.cursor()
        try:
            cursor.execute(sql, [bound[name] for name in order] if order is not None else bound)
            return cursor.fetchall()
        finally:
            cursor.close()

    def scalar(self, conn: Connection, **values: Any) -> Any:
        rows = self.rows(conn, **values)
        return rows[0][0] if rows else None

    def _compile(self, conn: Connection):
        dialect = conn.dialect
        compiled = self.statement.compile(dialect=dialect)
        processors = {name: p for bind, name in compiled.bind_names.items()
                      if (p := bind.type.bind_processor(dialect)) is not None}
        defaults = {name: processors[name](v) if name in processors and v is not None else v
                    for name, v in compiled.params.items()}
        entry = (compiled.string, list(compiled.positiontup) if compiled.positional else None, defaults, processors)
        self._compiled[dialect.name] = entry
        return entry


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


_EVENTS = Read(_epoch_and_events(since=False))
_EVENTS_SINCE = Read(_epoch_and_events(since=True))
_EPOCH = Read(EPOCH)
_USER_TEXT = Read(select(Embedding.vector).where(
    Embedding.owner_kind == "user", Embedding.owner_id == bindparam("user_id"), Embedding.model == bindparam("model")))
_PROFILE = Read(select(User.profile_text).where(User.user_id == bindparam("user_id")))
_LIVE_ITEM = Read(select(Item.item_id).where(Item.item_id == bindparam("item_id"), Item.deleted_at.is_(None)))


def epoch(conn: Connection) -> int:
    """The serving epoch: what the store's writes have reached (``app.recommender.state``)."""
    return _EPOCH.scalar(conn) or 0


def events(conn: Connection, state: State, user_id: str) -> tuple[int, list]:
    """(serving epoch, the user's latest events the model has not seen: all of them before any model): what
    training already holds is in the model's factors and its seen-items table."""
    since = state.model.trained_until if state.model is not None else None
    if since is None:
        rows = _EVENTS.rows(conn, user_id=user_id)
    else:
        rows = _EVENTS_SINCE.rows(conn, user_id=user_id, since=since)
    return (rows[0][0] or 0) if rows else 0, [StoredEvent(*row[1:]) for row in rows if row[1] is not None]


def user_text_vector(conn: Connection, model: ServingModel, user_id: str) -> np.ndarray | None:
    blob = _USER_TEXT.scalar(conn, user_id=user_id, model=model.trained.encoder_model)
    return None if blob is None else np.frombuffer(blob, dtype="<f4")


def profile(conn: Connection, user_id: str) -> str | None:
    return _PROFILE.scalar(conn, user_id=user_id)


def item_is_live(conn: Connection, item_id: str) -> bool:
    return _LIVE_ITEM.scalar(conn, item_id=item_id) is not None
