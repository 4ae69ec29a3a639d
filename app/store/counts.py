"""The items' counts that ingestion and erasure keep up in the caller's transaction, so that serving reads counts
instead of events: events per item (popularity), per item and hour (trending), and co-purchases per item pair
(bought together, with each item's total). Each is one bulk upsert that adds, in key order (concurrent batches
lock rows alike)."""

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.store import baskets
from app.store.models import Interaction, ItemCount, ItemHour, ItemPair, User, utcnow


def insert(session: Session, table: Table):
    """The dialect's INSERT, which knows ON CONFLICT (both SQLite and PostgreSQL speak it)."""
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def count_events(session: Session, deltas: dict[str, int], pair_deltas: dict[str, int] | None = None) -> None:
    """Add to the items' event and co-purchase counts, one statement, in item order (concurrent batches lock
    rows alike)."""
    pair_deltas = pair_deltas or {}
    now = utcnow()
    rows = [{"item_id": i, "events": deltas.get(i, 0), "pairs": pair_deltas.get(i, 0), "updated_at": now}
            for i in sorted(set(deltas) | set(pair_deltas)) if deltas.get(i) or pair_deltas.get(i)]
    if not rows:
        return
    table = ItemCount.__table__
    stmt = insert(session, table)
    stmt = stmt.on_conflict_do_update(index_elements=["item_id"], set_={
        "events": table.c.events + stmt.excluded.events, "pairs": table.c.pairs + stmt.excluded.pairs,
        "updated_at": stmt.excluded.updated_at})
    session.execute(stmt, rows)


def count_pairs(session: Session, deltas: Counter) -> None:
    """Add to the co-purchase counts, one statement, in key order."""
    rows = [{"item_id": a, "partner_id": b, "pairs": n} for (a, b), n in sorted(deltas.items()) if n]
    if not rows:
        return
    table = ItemPair.__table__
    stmt = insert(session, table)
    stmt = stmt.on_conflict_do_update(index_elements=["item_id", "partner_id"],
                                      set_={"pairs": table.c.pairs + stmt.excluded.pairs})
    session.execute(stmt, rows)


def count_hours(session: Session, deltas: Counter) -> None:
    """Add to the events per item and hour, one statement, in key order."""
    now = utcnow()
    rows = [{"item_id": i, "hour": h, "events": n, "updated_at": now} for (i, h), n in sorted(deltas.items()) if n]
    if not rows:
        return
    table = ItemHour.__table__
    stmt = insert(session, table)
    stmt = stmt.on_conflict_do_update(index_elements=["item_id", "hour"], set_={
        "events": table.c.events + stmt.excluded.events, "updated_at": stmt.excluded.updated_at})
    session.execute(stmt, rows)


def degrees(pairs: Counter) -> Counter:
    """Each item's co-purchases: the sum of its pair counts."""
    out: Counter = Counter()
    for (a, _), n in pairs.items():
        out[a] += n
    return out


def lock_users(session: Session, user_ids: Sequence[str]) -> None:
    """On PostgreSQL, lock the shoppers' rows (in id order) until the batch commits: a concurrent batch of the
    same shopper waits, so it stores its events after this one's and sees them when it pairs its own (SQLite
    has one writer at a time already)."""
    if user_ids and session.get_bind().dialect.name == "postgresql":
        session.execute(select(User.user_id).where(User.user_id.in_(sorted(user_ids))).order_by(User.user_id)
                        .with_for_update())


def basket_pairs(session: Session, new: list, window_s: float) -> Counter:
    """The co-purchases the batch's new bought events make with the shoppers' stored ones (app.store.baskets):
    one read of those shoppers' bought events in the batch's time span widened by the window."""
    bought = [r for r in new if r.type in baskets.BOUGHT]
    if not bought:
        return Counter()
    span = [aware(r.ts) for r in bought]
    lo, hi = _shifted(min(span), -window_s), _shifted(max(span), window_s)
    stored = session.execute(
        select(Interaction.id, Interaction.user_id, Interaction.item_id, Interaction.ts).where(
            Interaction.user_id.in_(sorted({r.user_id for r in bought})), Interaction.type.in_(baskets.BOUGHT),
            Interaction.ts >= lo, Interaction.ts <= hi)).all()
    return baskets.pairs([baskets.Bought(*r) for r in stored], window_s, counted={r.id for r in bought})


def _shifted(ts: datetime, seconds: float) -> datetime:
    """``ts`` moved by ``seconds``, held at the calendar's ends (an event stamped in the year 1 or 9999)."""
    try:
        return ts + timedelta(seconds=seconds)
    except OverflowError:
        return (datetime.max if seconds > 0 else datetime.min).replace(tzinfo=UTC)


def aware(ts: datetime) -> datetime:
    """A stored time as UTC-aware (the PostgreSQL statement's RETURNING gives it so already)."""
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts
