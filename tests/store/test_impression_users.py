"""The impressions by user, written in bulk (app.store.impression_users), on SQLite and PostgreSQL: an answer is
found by its user before and after it is indexed, a backlog is indexed in steps, the mark passes only committed
answers and is never passed by a reused id, and erasure and retention take the index entries with the answers."""

import itertools
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.measure.impressions import ImpressionLog
from app.store import impression_users
from app.store.crud import erase_user
from app.store.models import ImpressionAnswer, ImpressionBucket, ImpressionUser, ImpressionUsersMark


def shown(sessions, *users: str, since=None, until=None) -> list[str]:
    """The recommendation ids of the answers shown to ``users``, oldest first."""
    with sessions() as s:
        return list(s.scalars(select(ImpressionAnswer.recommendation_id)
                              .where(ImpressionAnswer.id.in_(impression_users.shown_to(s, users, since, until)))
                              .order_by(ImpressionAnswer.id)))


def entries(sessions) -> list[tuple[str, str]]:
    """(user_id, recommendation_id) of each index entry, by user."""
    with sessions() as s:
        rows = s.execute(select(ImpressionUser.user_id, ImpressionAnswer.recommendation_id)
                         .join(ImpressionAnswer, ImpressionAnswer.id == ImpressionUser.answer_id)
                         .order_by(ImpressionUser.user_id, ImpressionUser.answer_id)).all()
        return [tuple(r) for r in rows]


def mark(sessions) -> int:
    with sessions() as s:
        return s.scalar(select(ImpressionUsersMark.answer_id))


def last_id(sessions) -> int:
    with sessions() as s:
        return s.scalar(select(func.max(ImpressionAnswer.id)))


def test_an_answer_is_found_by_its_user_before_and_after_it_is_indexed(sessions):
    log = ImpressionLog(sessions)
    log.record("r1", "recommendations", "v1", "u1", None, ["a"])
    log.record("r2", "recommendations", "v1", "u2", None, ["b"])
    log.record("r3", "similar", "v1", None, None, ["c"])  # no user: nothing to index
    log.flush()
    assert shown(sessions, "u1") == ["r1"] and entries(sessions) == []  # the tail
    log.index_users()
    assert entries(sessions) == [("u1", "r1"), ("u2", "r2")] and mark(sessions) == last_id(sessions)
    log.record("r4", "recommendations", "v1", "u1", None, ["d"])
    log.flush()
    assert shown(sessions, "u1") == ["r1", "r4"]  # one indexed, one in the tail
    assert shown(sessions, "u1", "u2") == ["r1", "r2", "r4"] and shown(sessions, "u3") == []
    future = datetime.now(UTC) + timedelta(hours=1)
    assert shown(sessions, "u1", since=future) == ["r4"]  # the bounds narrow the index; the tail is all recent
    log.index_users()
    assert entries(sessions) == [("u1", "r1"), ("u1", "r4"), ("u2", "r2")]
    assert shown(sessions, "u1", since=future) == [] and shown(sessions, "u1", until=future) == ["r1", "r4"]
    log.index_users()  # nothing new: nothing twice
    assert len(entries(sessions)) == 3


def test_a_backlog_is_indexed_a_batch_a_transaction(sessions, monkeypatch):
    monkeypatch.setattr(impression_users, "INDEX_BATCH", 2)
    log = ImpressionLog(sessions)
    for n in range(5):
        log.record(f"r{n}", "recommendations", None, f"u{n}", None, ["a"])
    log.flush()
    with sessions.begin() as s:
        assert impression_users.index_new(s) is True  # three more wait
    assert len(entries(sessions)) == 2
    log.index_users()
    assert len(entries(sessions)) == 5 and mark(sessions) == last_id(sessions)


def test_an_id_is_never_reused_below_the_mark(sessions):
    """The newest answers erased, the next one's id must still lie past the mark (AUTOINCREMENT on SQLite)."""
    log = ImpressionLog(sessions)
    log.record("r1", "recommendations", None, "u1", None, ["a"])
    log.record("r2", "recommendations", None, "u2", None, ["a"])
    log.flush()
    log.index_users()
    with sessions.begin() as s:
        erase_user(s, "u2")
    log.record("r3", "recommendations", None, "u3", None, ["a"])
    log.flush()
    assert shown(sessions, "u3") == ["r3"]


def test_erasure_deletes_a_users_answers_indexed_or_not_and_their_entries(sessions):
    log = ImpressionLog(sessions)
    log.record("r1", "recommendations", None, "u1", None, ["a"])
    log.record("r2", "recommendations", None, "u2", None, ["a"])
    log.flush()
    log.index_users()
    log.record("r3", "recommendations", None, "u1", None, ["b"])
    log.flush()
    with sessions.begin() as s:
        erase_user(s, "u1")
    with sessions() as s:
        left = s.scalars(select(ImpressionAnswer.recommendation_id)).all()
    assert left == ["r2"] and entries(sessions) == [("u2", "r2")]


def test_retention_deletes_the_entries_with_their_answers(sessions):
    log = ImpressionLog(sessions, retention_days=1)
    now = datetime.now(UTC)
    with sessions.begin() as s:
        s.add_all([ImpressionAnswer(recommendation_id="old", items='["a"]', route="recommendations", user_id="u1",
                                    shown_at=now - timedelta(days=2)),
                   ImpressionAnswer(recommendation_id="new", items='["a"]', route="recommendations", user_id="u1",
                                    shown_at=now - timedelta(hours=1))])
    log.index_users()
    assert log.delete_expired(now) == 1
    assert entries(sessions) == [("u1", "new")]


def test_the_mark_waits_for_inserts_in_flight(sessions):
    """On PostgreSQL an insert that began first takes the lower id and may commit last: the indexer must not
    move the mark past it while it is in flight, or that answer would be neither indexed nor in the tail."""
    if sessions.kw["bind"].dialect.name == "sqlite":
        pytest.skip("SQLite commits one writer at a time: an insert in flight holds every other one back")
    at = datetime.now(UTC)
    first = sessions()
    first.add(ImpressionAnswer(recommendation_id="first", items='["a"]', route="recommendations", user_id="u1",
                               shown_at=at))
    first.flush()  # its id taken, not committed
    with sessions.begin() as s:
        s.add(ImpressionAnswer(recommendation_id="second", items='["a"]', route="recommendations", user_id="u2",
                               shown_at=at))
    log = ImpressionLog(sessions)
    indexer = threading.Thread(target=log.index_users)
    indexer.start()
    time.sleep(0.5)  # the indexer is waiting for the first insert (without its lock it would be done already)
    first.commit()
    first.close()
    indexer.join(timeout=30)
    assert shown(sessions, "u1") == ["first"] and shown(sessions, "u2") == ["second"]
    assert entries(sessions) == [("u1", "first"), ("u2", "second")]


def buckets(sessions) -> dict[int, tuple[datetime, datetime]]:
    with sessions() as s:
        return {b.bucket: (b.first_shown, b.last_shown) for b in s.scalars(select(ImpressionBucket))}


def test_entries_go_to_their_answers_bucket_and_a_window_reads_the_buckets_it_spans(sessions, monkeypatch):
    monkeypatch.setattr(impression_users, "BUCKET_ANSWERS", 2)
    log = ImpressionLog(sessions)
    now = datetime.now(UTC)
    with sessions.begin() as s:  # two days apart, shown to u2 and u1 in turn
        s.add_all([ImpressionAnswer(recommendation_id=f"r{n}", items='["a"]', route="recommendations",
                                    user_id=f"u{n % 2 + 1}", shown_at=now - timedelta(days=10 - 2 * n))
                   for n in range(1, 6)])
    log.index_users()
    with sessions() as s:
        by_answer = dict(s.execute(select(ImpressionUser.answer_id, ImpressionUser.bucket)).all())
    assert len(by_answer) == 5 and by_answer == {answer: answer // 2 for answer in by_answer}
    spans = [buckets(sessions)[number] for number in sorted(set(by_answer.values()))]
    assert len(spans) == 3 and all(first <= last for first, last in spans)
    assert all(earlier[1] < later[0] for earlier, later in itertools.pairwise(spans))  # older ids, older answers
    assert shown(sessions, "u2") == ["r1", "r3", "r5"] and shown(sessions, "u1") == ["r2", "r4"]
    assert shown(sessions, "u2", since=now - timedelta(days=5)) == ["r3", "r5"]
    assert shown(sessions, "u2", until=now - timedelta(days=5)) == ["r1"]
    assert shown(sessions, "u1", "u2", since=now - timedelta(days=3), until=now - timedelta(days=1)) == ["r4"]
    with sessions.begin() as s:
        erase_user(s, "u2")
    assert entries(sessions) == [("u1", "r2"), ("u1", "r4")]


def test_a_copy_widens_the_span_of_a_bucket_it_adds_to(sessions, monkeypatch):
    monkeypatch.setattr(impression_users, "BUCKET_ANSWERS", 10**12)  # one bucket, whatever the ids
    log = ImpressionLog(sessions)
    log.record("r1", "recommendations", None, "u1", None, ["a"])
    log.flush()
    log.index_users()
    (first, last), = buckets(sessions).values()
    time.sleep(0.01)
    log.record("r2", "recommendations", None, "u1", None, ["a"])
    log.flush()
    log.index_users()
    (first_after, last_after), = buckets(sessions).values()
    assert first_after == first and last_after > last
    assert shown(sessions, "u1", since=last_after) == ["r2"]


def test_retention_deletes_the_buckets_it_empties(sessions, monkeypatch):
    monkeypatch.setattr(impression_users, "BUCKET_ANSWERS", 2)
    log = ImpressionLog(sessions, retention_days=1)
    now = datetime.now(UTC)
    with sessions.begin() as s:  # three answers in two buckets at least: two old, one new
        s.add_all([ImpressionAnswer(recommendation_id=f"r{n}", items='["a"]', route="recommendations", user_id="u1",
                                    shown_at=now - timedelta(days=3 if n < 3 else 0)) for n in range(1, 4)])
    log.index_users()
    with sessions() as s:
        newest = s.scalar(select(func.max(ImpressionAnswer.id))) // 2
    assert len(buckets(sessions)) >= 2
    assert log.delete_expired(now) == 2
    assert list(buckets(sessions)) == [newest] and entries(sessions) == [("u1", "r3")]
