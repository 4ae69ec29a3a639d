"""What is in the store, at a glance (the dashboard's overview), and which role a key has (so a page offers
only what the key may do)."""

from datetime import date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import Date, cast, func, select
from sqlalchemy.orm import Session

from app.api import V1
from app.api.deps import ReadKey, SessionDep, SettingsDep, WriteKey
from app.api.stats_schemas import DayCount, KeyOut, StoreStats
from app.store.models import Embedding, Interaction, Item, User

router = APIRouter(prefix=V1, tags=["ops"])


@router.get("/key", response_model=KeyOut)
def current_key(role: ReadKey) -> KeyOut:
    """The presented key's role: `read` (recommendation and conversation routes) or `write` (everything)."""
    return KeyOut(role=role.value)


@router.get("/stats", response_model=StoreStats)
def store_stats(session: SessionDep, settings: SettingsDep, _: WriteKey,
                days: Annotated[int, Query(ge=1, le=366, description="Days of `events_per_day`.")] = 90) -> StoreStats:
    """Counts of items, users and events, how many are embedded by the configured encoder, events by type,
    and events per day over the `days` up to the newest event (UTC days; days without events left out).
    Full counts: one scan of the interactions, seconds at 10^7 events."""
    items = session.execute(select(func.count(), func.count().filter(Item.available.is_(True)))
                            .where(Item.deleted_at.is_(None))).one()
    embedded = dict(session.execute(select(Embedding.owner_kind, func.count())
                                    .where(Embedding.model == settings.encoder_name)
                                    .group_by(Embedding.owner_kind)).all())
    by_type = dict(session.execute(select(Interaction.type, func.count()).group_by(Interaction.type)).all())
    newest = session.scalar(select(func.max(Interaction.ts)))
    return StoreStats(items=items[0], available_items=items[1], users=session.scalar(select(func.count(User.user_id))),
                      events=sum(by_type.values()), events_by_type=by_type,
                      embedded_items=embedded.get("item", 0), embedded_users=embedded.get("user", 0),
                      newest_event=newest, events_per_day=_per_day(session, newest, days) if newest else [])


def _per_day(session: Session, newest: datetime, days: int) -> list[DayCount]:
    start = datetime.combine(newest.date() - timedelta(days - 1), datetime.min.time())
    if session.bind.dialect.name == "postgresql":  # timestamptz: the day in UTC, not in the session's zone
        day = cast(func.timezone("UTC", Interaction.ts), Date)
    else:  # SQLite keeps naive UTC text
        day = func.date(Interaction.ts)
    rows = session.execute(select(day, func.count()).where(Interaction.ts >= start)
                           .group_by(day).order_by(day)).all()
    return [DayCount(day=d if isinstance(d, date) else date.fromisoformat(d), events=n) for d, n in rows]
