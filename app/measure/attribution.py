"""Which answer an event is credited to, decided when the event is stored (one query per rule and batch, then
Python), so the online figures read stored credits and never re-derive them.

- **By id**: an event that names ``recommendation_id`` is credited to it when that answer showed the event's
  item and the event lies within ``SEMREC_ATTRIBUTION_HOURS`` after it (up to ``SKEW`` before it counts too:
  the storefront's clock is not the service's). Any event type. Otherwise the id is kept uncredited
  (``attributed_by`` None): an unknown, expired or mismatched id is the storefront's to fix, not an error.
- **By last shown**: a click, cart or purchase that names none is credited to the latest answer that showed
  that item to that user (``user_id``) within the window before it. Views and ratings are not: a view is
  mostly the page a click opened, and a rating comes long after.

Impressions reach the store one flush interval after their answer: the route flushes its own process's log
first, so only another process's newest answers (at most ``SEMREC_IMPRESSIONS_FLUSH_SECONDS`` old) can be
missed.
"""

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from app.store.impression_users import shown_to
from app.store.models import Impression, ImpressionAnswer

BY_ID, LAST_SHOWN = "recommendation_id", "last_shown"
LAST_SHOWN_TYPES = frozenset({"click", "cart", "purchase"})
SKEW = timedelta(minutes=5)
CHUNK = 2000  # key pairs per IN list: far inside every store's parameter limit


def attribute(session: Session, records: list[dict[str, Any]], window_hours: float,
              now: datetime | None = None) -> None:
    """Set ``attributed_by`` (and, by last shown, ``recommendation_id``) on each record, in place. A record's
    time is its ``timestamp``, else ``now`` (as ingestion stores it)."""
    now = now or datetime.now(UTC)
    window = timedelta(hours=window_hours)
    named = [r for r in records if r.get("recommendation_id")]
    if named:
        shown = _shown_at(session, {(r["recommendation_id"], r["item_id"]) for r in named})
        for r in named:
            at = shown.get((r["recommendation_id"], r["item_id"]))
            ts = r.get("timestamp") or now
            r["attributed_by"] = BY_ID if at is not None and within(ts, at, window) else None
    unnamed = [r for r in records if not r.get("recommendation_id") and r["type"] in LAST_SHOWN_TYPES]
    if unnamed:
        times = [r.get("timestamp") or now for r in unnamed]
        latest = _latest_shown(session, {(r["user_id"], r["item_id"]) for r in unnamed},
                               shift(min(times), -window), shift(max(times), SKEW))
        for r, ts in zip(unnamed, times, strict=True):
            best = None
            for at, recommendation_id in latest.get((r["user_id"], r["item_id"]), ()):
                if within(ts, at, window) and (best is None or at > best[0]):
                    best = (at, recommendation_id)
            if best is not None:
                r["recommendation_id"], r["attributed_by"] = best[1], LAST_SHOWN


def shift(ts: datetime, delta: timedelta) -> datetime:
    """``ts + delta``, held at the calendar's ends (events may be stamped year 1 or 9999)."""
    try:
        return ts + delta
    except OverflowError:
        return datetime.max.replace(tzinfo=UTC) if delta > timedelta(0) else datetime.min.replace(tzinfo=UTC)


def within(ts: datetime, shown_at: datetime, window: timedelta) -> bool:
    """The event at ``ts`` lies in the window after the impression at ``shown_at`` (``SKEW`` before counts)."""
    return shift(shown_at, -SKEW) <= ts <= shift(shown_at, window)


def _chunks(keys: Iterable[tuple], size: int = CHUNK) -> Iterable[list[tuple]]:
    keys = sorted(keys)
    for start in range(0, len(keys), size):
        yield keys[start:start + size]


def _shown_at(session: Session, keys: set[tuple[str, str]]) -> dict[tuple[str, str], datetime]:
    """When each (recommendation_id, item_id) was shown, for those that were."""
    out = {}
    for chunk in _chunks(keys):
        rows = session.execute(select(Impression.recommendation_id, Impression.item_id, Impression.shown_at)
                               .where(tuple_(Impression.recommendation_id, Impression.item_id).in_(chunk)))
        for recommendation_id, item_id, at in rows:
            out[(recommendation_id, item_id)] = at
    return out


def _latest_shown(session: Session, keys: set[tuple[str, str]], since: datetime, until: datetime
                  ) -> dict[tuple[str, str], list[tuple[datetime, str]]]:
    """(shown_at, recommendation_id) of the answers that showed each (user_id, item_id), those between
    ``since`` and ``until`` at least: the users' answers (``app.store.impression_users``), their items read
    here. The caller checks each time against its event's window."""
    out: dict[tuple[str, str], list[tuple[datetime, str]]] = {}
    for chunk in _chunks(keys):
        wanted = set(chunk)
        answers = shown_to(session, {user_id for user_id, _ in chunk}, since, until)
        rows = session.execute(select(ImpressionAnswer.user_id, ImpressionAnswer.items, ImpressionAnswer.shown_at,
                                      ImpressionAnswer.recommendation_id)
                               .where(ImpressionAnswer.id.in_(answers)))
        for user_id, items, at, recommendation_id in rows:
            for item_id in orjson.loads(items):
                if (user_id, item_id) in wanted:
                    out.setdefault((user_id, item_id), []).append((at, recommendation_id))
    return out
