"""The impressions by user (``impression_users``), written in bulk rather than with each answer.

Attribution by last shown and erasure find a user's answers by user. Users come in no order, so an index entry
written with each answer lands on a page of the index no recent answer touched: one more page written per
answer, and most of what keeping impressions cost the answers (docs/online.md, "Ninth round"). So the log
(``impression_answers``) is written without one, and ``index_new`` copies the answers past the mark into
``impression_users`` every ``INDEX_EVERY_S``, sorted by user, where a batch of thousands shares its pages.

The index is ordered by ``bucket`` (the answer's id // ``BUCKET_ANSWERS``) before the user, so a copy writes
into the newest bucket's part only: ordered by user alone, each copy rewrote pages all over the index, and its
cost grew with the table (docs/online.md, "Twelfth round"). ``impression_buckets`` keeps each bucket's first
and last ``shown_at``, so a lookup in a time window seeks each user in the buckets that can hold an answer of
it: a day's window spans a day's answers / ``BUCKET_ANSWERS`` buckets (18 at 20 answers a second).

``shown_to`` reads the index and the log's unindexed tail together, so an answer is found whether it has been
indexed yet or not, and the index is derived from the log: nothing is lost if it lags.

The mark only passes answers that are committed. On SQLite one writer commits at a time. On PostgreSQL ids come
from a sequence in the order the inserts began, not the order they commit, so ``index_new`` first takes a lock
that waits for the inserts in flight (and holds new ones back for the batch's milliseconds).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import CompoundSelect, delete, exists, func, insert, select, text, union_all, update
from sqlalchemy.orm import Session

from app.store.models import ImpressionAnswer, ImpressionBucket, ImpressionUser, ImpressionUsersMark

INDEX_EVERY_S = 10.0  # each API process's writer indexes this often; the tail is at most about as old
INDEX_BATCH = 50_000  # answers per transaction: a backlog is indexed in steps, never one long hold of the lock
BUCKET_ANSWERS = 100_000  # answer ids per bucket; migration 0013 made the buckets of the answers before it alike


def index_new(session: Session) -> bool:
    """In ``session``'s transaction, copy the entries of at most ``INDEX_BATCH`` answers past the mark into the
    index and move the mark past them; returns whether more answers wait. With nothing new it writes nothing."""
    mark, last = _ends(session)
    if last <= mark:
        return False
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("LOCK TABLE impression_answers IN SHARE ROW EXCLUSIVE MODE"))
    else:  # SQLite: the write lock first (a write opens the transaction), then read what no one else moves now
        session.execute(update(ImpressionUsersMark).values(answer_id=ImpressionUsersMark.answer_id))
    mark, last = _ends(session)  # again: another process may have indexed meanwhile
    top = min(last, mark + INDEX_BATCH)
    if top <= mark:
        return False
    bucket = ImpressionAnswer.id // BUCKET_ANSWERS
    answers = (select(ImpressionAnswer.id, bucket, ImpressionAnswer.user_id, ImpressionAnswer.shown_at)
               .where(ImpressionAnswer.id > mark, ImpressionAnswer.id <= top, ImpressionAnswer.user_id.is_not(None))
               .order_by(bucket, ImpressionAnswer.user_id, ImpressionAnswer.shown_at))
    session.execute(insert(ImpressionUser).from_select(["answer_id", "bucket", "user_id", "shown_at"], answers))
    _widen_buckets(session, mark, top)
    session.execute(update(ImpressionUsersMark).values(answer_id=top))
    return top < last


def _widen_buckets(session: Session, mark: int, top: int) -> None:
    """Stretch the time span of each bucket the entries of answers ``mark`` < id <= ``top`` went to (one or two)
    over their ``shown_at``, adding the buckets new to the table."""
    spans = session.execute(select(ImpressionUser.bucket, func.min(ImpressionUser.shown_at),
                                   func.max(ImpressionUser.shown_at))
                            .where(ImpressionUser.answer_id > mark, ImpressionUser.answer_id <= top)
                            .group_by(ImpressionUser.bucket))
    for number, first, last in spans:
        known = session.get(ImpressionBucket, number)
        if known is None:
            session.add(ImpressionBucket(bucket=number, first_shown=first, last_shown=last))
        else:
            known.first_shown, known.last_shown = min(known.first_shown, first), max(known.last_shown, last)
    session.flush()


def _ends(session: Session) -> tuple[int, int]:
    """(the mark, the log's last id)."""
    return _mark(session), session.scalar(select(func.max(ImpressionAnswer.id))) or 0


def _mark(session: Session) -> int:
    """The last answer id the index holds (0: none yet)."""
    return session.scalar(select(ImpressionUsersMark.answer_id)) or 0


def shown_to(session: Session, users: Collection[str], since: datetime | None = None,
             until: datetime | None = None) -> CompoundSelect:
    """The ids of the answers shown to ``users``: the index's (those shown between ``since`` and ``until``, where
    given) and the log's tail past the mark, whatever their times (the seconds since the last copy: a caller
    that needs the bounds checks the answers' own ``shown_at``). The mark is read first and passed as a value,
    so the stores scan the tail by id, not by time; a copy that moves it meanwhile puts its answers in both
    parts, never in neither."""
    mark = _mark(session)
    buckets = select(ImpressionBucket.bucket)
    indexed = select(ImpressionUser.answer_id).where(ImpressionUser.user_id.in_(users))
    if since is not None:
        buckets = buckets.where(ImpressionBucket.last_shown >= since)
        indexed = indexed.where(ImpressionUser.shown_at >= since)
    if until is not None:
        buckets = buckets.where(ImpressionBucket.first_shown <= until)
        indexed = indexed.where(ImpressionUser.shown_at <= until)
    indexed = indexed.where(ImpressionUser.bucket.in_(buckets))  # a seek per user per bucket, not a scan
    tail = select(ImpressionAnswer.id).where(ImpressionAnswer.id > mark, ImpressionAnswer.user_id.in_(users))
    return union_all(indexed, tail)


def delete_user(session: Session, user_id: str) -> int:
    """Delete every answer shown to ``user_id`` and its index entries; returns the answers deleted."""
    theirs = shown_to(session, [user_id])
    gone = session.execute(delete(ImpressionAnswer).where(ImpressionAnswer.id.in_(theirs))).rowcount
    session.execute(delete(ImpressionUser).where(ImpressionUser.bucket.in_(select(ImpressionBucket.bucket)),
                                                 ImpressionUser.user_id == user_id))
    return gone


def delete_answers(session: Session, ids: Collection[int]) -> int:
    """Delete the answers ``ids`` and their index entries (retention), then the buckets left without entries;
    returns the answers deleted."""
    session.execute(delete(ImpressionUser).where(ImpressionUser.answer_id.in_(ids)))
    gone = session.execute(delete(ImpressionAnswer).where(ImpressionAnswer.id.in_(ids))).rowcount
    session.execute(delete(ImpressionBucket).where(~exists().where(ImpressionUser.bucket == ImpressionBucket.bucket)))
    return gone
