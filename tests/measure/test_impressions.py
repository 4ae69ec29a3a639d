"""The impression log on SQLite and PostgreSQL: what a flush writes, the bound on what waits, retention."""

from collections import deque
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.measure import impressions
from app.measure.impressions import ImpressionLog
from app.store.models import Impression, ImpressionAnswer


def rows(sessions) -> list[Impression]:
    with sessions() as s:
        return list(s.scalars(select(Impression).order_by(Impression.shown_at, Impression.recommendation_id,
                                                          Impression.position)))


def test_a_flush_writes_one_row_per_item_with_its_position(sessions):
    log = ImpressionLog(sessions)
    log.record("r1", "user", "v1", "u1", None, ["a", "b", "c"])
    log.record("r2", "recommend", None, None, "s9", ["d"], variant="B", experiment_id="x1")
    log.record("r3", "user", "v1", "u1", None, ["e", "f"], variant="ignored", experiment_id="x1", teams=["A", "B"])
    log.record("r4", "user", "v1", "u1", None, [])  # nothing shown, nothing kept
    assert rows(sessions) == [] and log.pending == 3
    assert log.flush() == 6 and log.pending == 0 and log.written == 6
    got = [(r.recommendation_id, r.position, r.item_id, r.user_id, r.session_id, r.model_version, r.route,
            r.variant, r.experiment_id) for r in rows(sessions)]
    assert got == [("r1", 1, "a", "u1", None, "v1", "user", None, None),
                   ("r1", 2, "b", "u1", None, "v1", "user", None, None),
                   ("r1", 3, "c", "u1", None, "v1", "user", None, None),
                   ("r2", 1, "d", None, "s9", None, "recommend", "B", "x1"),
                   ("r3", 1, "e", "u1", None, "v1", "user", "A", "x1"),  # interleaving: each item's team
                   ("r3", 2, "f", "u1", None, "v1", "user", "B", "x1")]
    shown = rows(sessions)[0].shown_at
    assert shown.tzinfo is not None and abs(datetime.now(UTC) - shown) < timedelta(seconds=30)
    assert log.flush() == 0


def test_flushed_times_compare_with_the_stores_own_as_times(sessions):
    """The batch statement writes shown_at itself (text on SQLite): it must order and compare as the ORM's."""
    before = datetime.now(UTC)
    with sessions.begin() as s:
        s.add(ImpressionAnswer(recommendation_id="orm", items='["a"]', route="user", shown_at=before))
    log = ImpressionLog(sessions)
    log.record("flushed", "user", None, "u1", None, ["b"])
    log.flush()
    after = datetime.now(UTC)
    with sessions() as s:
        within = s.scalars(select(ImpressionAnswer.recommendation_id).where(
            ImpressionAnswer.shown_at.between(before, after)).order_by(ImpressionAnswer.shown_at)).all()
        later = s.scalars(select(ImpressionAnswer.recommendation_id).where(ImpressionAnswer.shown_at > before)).all()
    assert within == ["orm", "flushed"] and later == ["flushed"]


def test_an_answer_shown_at_a_whole_second_is_within_a_bound_at_that_second(sessions, monkeypatch):
    """At a whole second the driver's own text for a datetime has no '.000000', and sorted before the ORM's
    bound for the same time: an answer then fell outside ``shown_at >= its own time``."""
    second = datetime(2026, 12, 7, 12, 0, 0, tzinfo=UTC)
    monkeypatch.setattr(impressions.time, "time", lambda: second.timestamp())
    log = ImpressionLog(sessions)
    log.record("whole", "user", None, "u1", None, ["a"])
    monkeypatch.undo()
    log.flush()
    with sessions() as s:
        at = s.scalars(select(ImpressionAnswer.recommendation_id).where(ImpressionAnswer.shown_at >= second,
                                                                        ImpressionAnswer.shown_at <= second)).all()
        shown = s.scalar(select(ImpressionAnswer.shown_at))
    assert at == ["whole"] and shown == second


def test_a_flush_larger_than_one_statement_writes_every_answer_once_in_order(sessions):
    log = ImpressionLog(sessions)
    n = 2 * impressions.ROWS_PER_INSERT + 7
    for i in range(n):
        log.record(f"r{i:04d}", "user", None, f"u{i % 5}", None, (f"i{i}", f"j{i}") if i % 3 else [f"i{i}", f"j{i}"],
                   teams=deque(["A", "B"]) if i % 2 else None)  # any sequence
    assert log.flush() == 2 * n
    with sessions() as s:
        got = s.execute(select(ImpressionAnswer.recommendation_id, ImpressionAnswer.user_id, ImpressionAnswer.items,
                               ImpressionAnswer.teams).order_by(ImpressionAnswer.id)).all()
    assert [tuple(row) for row in got] == [
        (f"r{i:04d}", f"u{i % 5}", f'["i{i}","j{i}"]', '["A","B"]' if i % 2 else None) for i in range(n)]


def test_a_full_buffer_drops_the_oldest_and_counts_them(sessions):
    log = ImpressionLog(sessions, capacity=2)
    for n in range(5):
        log.record(f"r{n}", "user", None, "u1", None, [f"i{n}"])
    assert (log.pending, log.dropped) == (2, 3)
    log.flush()
    assert [r.recommendation_id for r in rows(sessions)] == ["r3", "r4"]


def test_disabled_records_nothing(sessions):
    log = ImpressionLog(sessions, enabled=False)
    log.record("r1", "user", None, "u1", None, ["a"])
    assert log.pending == 0 and log.flush() == 0


def test_close_writes_what_is_left(sessions):
    log = ImpressionLog(sessions, flush_seconds=60).start()
    log.record("r1", "user", None, "u1", None, ["a", "b"])
    log.close()
    assert len(rows(sessions)) == 2


def test_rows_older_than_the_retention_are_deleted_in_batches(sessions, monkeypatch):
    from app.measure import impressions

    monkeypatch.setattr(impressions, "RETENTION_BATCH", 3)  # several batches
    log = ImpressionLog(sessions, retention_days=1)
    now = datetime.now(UTC)
    with sessions.begin() as s:
        s.add_all([ImpressionAnswer(recommendation_id=f"old{n}", items='["a"]', route="recommendations",
                                    shown_at=now - timedelta(days=2)) for n in range(7)])
        s.add(ImpressionAnswer(recommendation_id="new", items='["a"]', route="recommendations",
                               shown_at=now - timedelta(hours=23)))
    assert log.delete_expired(now) == 7
    assert [r.recommendation_id for r in rows(sessions)] == ["new"]


def durability(connection) -> str:
    """How a driver connection commits: SQLite's ``synchronous`` (2 FULL, 1 NORMAL), PostgreSQL's
    ``synchronous_commit`` (on, off)."""
    cursor = connection.cursor()
    sqlite = type(connection).__module__.startswith("sqlite3")
    cursor.execute("PRAGMA synchronous" if sqlite else "SHOW synchronous_commit")
    value = str(cursor.fetchone()[0])
    cursor.close()
    return {"2": "full", "1": "normal"}.get(value, value) if sqlite else value


def pooled(engine) -> set[str]:
    """How every connection the pool keeps commits, and one more it would open."""
    held = [engine.raw_connection() for _ in range(engine.pool.checkedin() + 1)]
    try:
        return {durability(c.dbapi_connection) for c in held}
    finally:
        for c in held:
            c.close()


def test_only_the_writers_own_connection_commits_without_waiting_for_the_disk(sessions):
    """The writer relaxes durability on a connection it never gives back: every connection the pool hands
    the shop's writes still waits for the disk, while the writer works and after it closes."""
    engine = sessions.kw["bind"]
    log = ImpressionLog(sessions)
    log.record("r1", "user", None, "u1", None, ["a"])
    assert log.flush() == 1
    assert durability(log._conn.dbapi_connection) in ("normal", "off")
    assert pooled(engine) <= {"full", "on"}
    log.close()
    assert pooled(engine) <= {"full", "on"}


def test_a_batch_on_a_broken_connection_is_kept_and_written_on_a_new_one(sessions):
    log = ImpressionLog(sessions)
    log.record("r1", "user", None, "u1", None, ["a"])
    log.flush()
    log._conn.dbapi_connection.close()  # as a restarted store would leave it
    log.record("r2", "user", None, "u1", None, ["b", "c"])
    assert log.flush() == 0 and log.failures == 1
    assert log.flush() == 2 and [r.item_id for r in rows(sessions)] == ["a", "b", "c"]
    log.close()
