"""Queries over the store. Batches are bulk statements in the caller's one transaction, never a query per row."""

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, delete, func, or_, select, text, update
from sqlalchemy.orm import Session

from app.store import baskets, counts, impression_users
from app.store.counts import insert as _insert
from app.store.models import (
    Conversation,
    ConversationTurn,
    Embedding,
    GeneratedReview,
    Interaction,
    Item,
    ServingEpoch,
    User,
    utcnow,
)

ITEM_FIELDS = ("title", "description", "category", "price", "attributes", "available")
USER_FIELDS = ("profile_text", "attributes")


def _upsert(session: Session, table: Table, key: str, fields: Sequence[str], rows: list[dict[str, Any]]) -> None:
    """Insert or update; a row whose content is unchanged is left alone, so a resend changes nothing."""
    if not rows:
        return
    stmt = _insert(session, table)
    new = stmt.excluded
    changed = [table.c[f].is_distinct_from(new[f]) for f in fields]
    set_ = {f: new[f] for f in fields} | {"updated_at": new.updated_at}
    if "deleted_at" in table.c:  # upserting a deleted item brings it back
        changed.append(table.c.deleted_at.is_not(None))
        set_["deleted_at"] = None
    stmt = stmt.on_conflict_do_update(index_elements=[key], set_=set_, where=or_(*changed))
    session.execute(stmt, rows)


def _last_per_key(records: Iterable[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """One row per id (the last one sent wins): ON CONFLICT cannot touch a row twice in one statement."""
    return list({r[key]: r for r in records}.values())


def bump_serving_epoch(session: Session) -> None:
    """In the caller's transaction: every API process serves this write from its next answer on."""
    session.execute(update(ServingEpoch).where(ServingEpoch.id == 1).values(epoch=ServingEpoch.epoch + 1))


def _stamp(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    now = utcnow()
    for row in rows:
        row.setdefault("created_at", now)
        row["updated_at"] = now
    return rows


# ---------------------------------------------------------------- items


def upsert_items(session: Session, records: Iterable[dict[str, Any]]) -> int:
    rows = _stamp(_last_per_key(records, "item_id"))
    _upsert(session, Item.__table__, "item_id", ITEM_FIELDS, rows)
    if rows:
        bump_serving_epoch(session)
    return len(rows)


def get_item(session: Session, item_id: str) -> Item | None:
    item = session.get(Item, item_id)
    return None if item is None or item.deleted_at is not None else item


def delete_item(session: Session, item_id: str) -> bool:
    """Soft delete: never recommended again, while the interactions that name it stay; its generated reviews
    (text the service wrote about it, not anyone's history) go."""
    result = session.execute(
        update(Item).where(Item.item_id == item_id, Item.deleted_at.is_(None))
        .values(deleted_at=(now := utcnow()), updated_at=now)
    )
    if result.rowcount == 0:
        return False
    session.execute(delete(GeneratedReview).where(GeneratedReview.item_id == item_id))
    bump_serving_epoch(session)
    return True


# ---------------------------------------------------------------- users


def upsert_users(session: Session, records: Iterable[dict[str, Any]]) -> int:
    rows = _stamp(_last_per_key(records, "user_id"))
    _upsert(session, User.__table__, "user_id", USER_FIELDS, rows)
    return len(rows)


def get_user(session: Session, user_id: str) -> User | None:
    return session.get(User, user_id)


def erase_user(session: Session, user_id: str, basket_hours: float = 24.0) -> bool:
    """Erase the user, their interactions (with review texts), vectors, conversations and the impressions of what
    they were shown (rows of their answers still in another API process's memory land after it; the next
    erasure takes them); the items' counts drop
    (events, hours and co-purchases: the pairs their baskets added, by the rule that added them)."""
    counts.lock_users(session, [user_id])  # no batch of theirs pairs with events being erased
    erased = session.execute(select(Interaction.id, Interaction.item_id, Interaction.type, Interaction.ts)
                             .where(Interaction.user_id == user_id)).all()
    pairs = baskets.pairs([baskets.Bought(r.id, user_id, r.item_id, r.ts) for r in erased
                           if r.type in baskets.BOUGHT], basket_hours * 3600)
    hours = Counter((r.item_id, baskets.hour_of(r.ts)) for r in erased)
    counts.count_pairs(session, Counter({key: -n for key, n in pairs.items()}))
    counts.count_hours(session, Counter({key: -n for key, n in hours.items()}))
    counts.count_events(session, {item_id: -n for item_id, n in Counter(r.item_id for r in erased).items()},
                        {item_id: -n for item_id, n in counts.degrees(pairs).items()})
    session.execute(delete(Interaction).where(Interaction.user_id == user_id))
    impression_users.delete_user(session, user_id)
    session.execute(delete(Embedding).where(Embedding.owner_kind == "user", Embedding.owner_id == user_id))
    theirs = select(Conversation.conversation_id).where(Conversation.user_id == user_id)
    session.execute(delete(ConversationTurn).where(ConversationTurn.conversation_id.in_(theirs)))
    conversations = session.execute(delete(Conversation).where(Conversation.user_id == user_id)).rowcount
    bump_serving_epoch(session)  # answers kept for the user (app.recommender.answers) read their vector and events
    return session.execute(delete(User).where(User.user_id == user_id)).rowcount > 0 or conversations > 0


# ---------------------------------------------------------------- interactions


def _insert_new(session: Session, table: Table, rows: list[dict[str, Any]], key: str,
                returning: Sequence[str] = ()) -> list:
    """Insert the rows whose ``key`` is not stored yet, in one statement; returns the ``returning`` columns
    (default ``key``) of each new row.

    PostgreSQL gets all rows as one JSON parameter (``INSERT ... SELECT ... FROM json_to_recordset``):
    one small statement instead of a VALUES list with thousands of parameters for the driver to adapt.
    """
    if not rows:
        return []
    returning = returning or (key,)
    dialect = session.get_bind().dialect
    if dialect.name != "postgresql":
        stmt = _insert(session, table).on_conflict_do_nothing(index_elements=[key]).returning(
            *(table.c[c] for c in returning))
        return session.execute(stmt, rows).all()
    names = ", ".join(rows[0])
    record = ", ".join(f"{n} {table.c[n].type.compile(dialect=dialect)}" for n in rows[0])
    sql = text(
        f"INSERT INTO {table.name} ({names}) SELECT {names} FROM json_to_recordset(CAST(:rows AS json)) "
        f"AS r({record}) ON CONFLICT ({key}) DO NOTHING RETURNING {', '.join(returning)}"
    )
    payload = json.dumps(rows, default=datetime.isoformat)
    return session.execute(sql, {"rows": payload}).all()


def _create_bare(session: Session, table: Table, key: str, ids: set[str]) -> int:
    """Create rows for ids the store has not seen yet; returns how many were new."""
    now = utcnow()
    extra = {"available": True} if key == "item_id" else {}
    rows = [{key: i, "attributes": {}, "created_at": now, "updated_at": now, **extra} for i in sorted(ids)]
    return len(_insert_new(session, table, rows, key))


def ingest_interactions(session: Session, records: list[dict[str, Any]], basket_hours: float = 24.0,
                        attributable: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Store a batch of events; a known event_id (in the store or earlier in the batch) is a duplicate. The
    items' counts follow in the same transaction: events, events per hour (trending) and co-purchases (bought
    together), so that what is acknowledged is counted. Records may carry ``recommendation_id`` and
    ``attributed_by`` (app.measure.attribution); ``attributions`` counts the new events by how they were
    credited: ``recommendation_id``, ``last_shown``, ``unknown_id`` (an id that credited nothing) and ``none``
    (an event of an ``attributable`` type that no answer showed)."""
    created_users = _create_bare(session, User.__table__, "user_id", {r["user_id"] for r in records})
    created_items = _create_bare(session, Item.__table__, "item_id", {r["item_id"] for r in records})
    counts.lock_users(session, sorted({r["user_id"] for r in records if r["type"] in baskets.BOUGHT}))

    now = utcnow()
    rows, seen_events = [], set()
    for r in records:
        event_id = r.get("event_id")
        if event_id is not None:
            if event_id in seen_events:
                continue
            seen_events.add(event_id)
        rows.append(
            {
                "user_id": r["user_id"],
                "item_id": r["item_id"],
                "type": r["type"],
                "value": r.get("value"),
                "text": r.get("text"),
                "ts": r.get("timestamp") or now,
                "event_id": event_id,
                "location": (r.get("context") or {}).get("location"),
                "device": (r.get("context") or {}).get("device"),
                "received_at": now,
                "recommendation_id": r.get("recommendation_id"),
                "attributed_by": r.get("attributed_by"),
            }
        )
    new = _insert_new(session, Interaction.__table__, rows, "event_id",
                      returning=("id", "user_id", "item_id", "type", "ts", "recommendation_id", "attributed_by"))
    pairs = counts.basket_pairs(session, new, basket_hours * 3600)
    counts.count_pairs(session, pairs)
    counts.count_hours(session, Counter((r.item_id, baskets.hour_of(counts.aware(r.ts))) for r in new))
    counts.count_events(session, Counter(r.item_id for r in new), counts.degrees(pairs))
    accepted = len(new)
    return {
        "accepted": accepted,
        "duplicates": len(records) - accepted,
        "created_users": created_users,
        "created_items": created_items,
        "attributions": _attributions(new, attributable),
    }


def _attributions(new: Sequence, attributable: frozenset[str]) -> Counter:
    out = Counter({"recommendation_id": 0, "last_shown": 0, "unknown_id": 0, "none": 0})
    for r in new:
        if r.attributed_by is not None:
            out[r.attributed_by] += 1
        elif r.recommendation_id is not None:
            out["unknown_id"] += 1
        elif r.type in attributable:
            out["none"] += 1
    return out


def list_interactions(session: Session, user_id: str, limit: int) -> list[Interaction]:
    stmt = (
        select(Interaction)
        .where(Interaction.user_id == user_id)
        .order_by(Interaction.ts.desc(), Interaction.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


# ---------------------------------------------------------------- texts and embeddings


def item_rows_for_text(session: Session, item_ids: Sequence[str] | None = None) -> list[Item]:
    """Live catalog items that have text (bare items created by an event have none yet)."""
    stmt = select(Item).where(Item.deleted_at.is_(None), Item.title.is_not(None)).order_by(Item.item_id)
    if item_ids is not None:
        stmt = stmt.where(Item.item_id.in_(item_ids))
    return list(session.scalars(stmt))


def latest_reviews(session: Session, kind: str, per_owner: int,
                   owner_ids: Sequence[str] | None = None) -> dict[str, list[str]]:
    """Each user's or item's latest ``per_owner`` review texts, newest first (ties: the later stored first), in
    one query."""
    if per_owner <= 0:
        return {}
    owner = Interaction.user_id if kind == "user" else Interaction.item_id
    rank = func.row_number().over(partition_by=owner, order_by=(Interaction.ts.desc(), Interaction.id.desc()))
    latest = select(owner.label("owner"), Interaction.text, rank.label("rank")).where(Interaction.text.is_not(None))
    if owner_ids is not None:
        latest = latest.where(owner.in_(owner_ids))
    latest = latest.subquery()
    out: dict[str, list[str]] = {}
    for owner_id, text_ in session.execute(
        select(latest.c.owner, latest.c.text).where(latest.c.rank <= per_owner).order_by(latest.c.rank)
    ):
        out.setdefault(owner_id, []).append(text_)
    return out


def generated_reviews(session: Session, min_real: int, item_ids: Sequence[str] | None = None
                      ) -> dict[str, list[str]]:
    """The generated reviews of each item with fewer than ``min_real`` shoppers' review texts, oldest first."""
    real = (select(Interaction.item_id).where(Interaction.text.is_not(None)).group_by(Interaction.item_id)
            .having(func.count() >= min_real))
    rows = select(GeneratedReview.item_id, GeneratedReview.text).where(GeneratedReview.item_id.not_in(real))
    if item_ids is not None:
        rows = rows.where(GeneratedReview.item_id.in_(item_ids))
    out: dict[str, list[str]] = {}
    for item_id, text_ in session.execute(rows.order_by(GeneratedReview.id)):
        out.setdefault(item_id, []).append(text_)
    return out


def user_rows_for_text(session: Session, reviews_per_user: int,
                       user_ids: Sequence[str] | None = None) -> list[tuple[str, str | None, list[str]]]:
    """(user_id, profile_text, latest review texts newest first) in two queries, not one per user."""
    users = select(User.user_id, User.profile_text).order_by(User.user_id)
    if user_ids is not None:
        users = users.where(User.user_id.in_(user_ids))
    reviews = latest_reviews(session, "user", reviews_per_user, user_ids)
    return [(u, p, reviews.get(u, [])) for u, p in session.execute(users)]


def embedding_hashes(session: Session, owner_kind: str, model: str,
                     owner_ids: Sequence[str] | None = None) -> dict[str, str]:
    stmt = select(Embedding.owner_id, Embedding.text_hash).where(
        Embedding.owner_kind == owner_kind, Embedding.model == model)
    if owner_ids is not None:
        stmt = stmt.where(Embedding.owner_id.in_(owner_ids))
    return dict(session.execute(stmt).all())


def upsert_embeddings(session: Session, rows: list[dict[str, Any]]) -> None:
    """rows: owner_kind, owner_id, model, dim, vector (float32 bytes), text_hash."""
    if not rows:
        return
    now = utcnow()
    for row in rows:
        row["created_at"] = now
    table = Embedding.__table__
    stmt = _insert(session, table)
    stmt = stmt.on_conflict_do_update(
        index_elements=["owner_kind", "owner_id", "model"],
        set_={c: stmt.excluded[c] for c in ("dim", "vector", "text_hash", "created_at")},
    )
    session.execute(stmt, rows)
    # Items new to the model now map in by their text, and a user's new profile vector changes their answers.
    bump_serving_epoch(session)
