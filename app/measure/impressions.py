"""Impressions kept off the request path: an answer's ``record`` is one append to a bounded deque; a thread
writes what gathered to the store every ``SEMREC_IMPRESSIONS_FLUSH_SECONDS`` (default 0.2 s), one bulk insert in
one transaction per batch, copies the new answers into the per-user index every ``INDEX_EVERY_S``
(``app.store.impression_users``: not written with each answer, where its entries cost the answers most), and
deletes the rows older than ``SEMREC_IMPRESSIONS_DAYS`` at most once an hour.

The writer keeps a driver connection of its own, without the ORM's session (a quarter of a flush's CPU), and
commits without waiting for the disk: on SQLite ``synchronous=NORMAL``, with the first commit more than a second
after the last synced one made with ``FULL`` (which syncs the WAL, every earlier commit with it); on PostgreSQL
``synchronous_commit=off`` (the server syncs within 0.6 s). The answers share the host's cores and disk with
this work (docs/online.md, "Eighth round"), and an fsync per flush guarded nothing a crash of the process
could lose.

What can be lost (docs/reliability.md): on a clean shutdown nothing (``close`` writes the rest); on a crash of
the process the answers recorded since the last flush (at most one interval); on a crash of the machine, at
most the last second of flushes too; when the store cannot keep up for long enough that
``SEMREC_IMPRESSIONS_BUFFER`` answers wait, the oldest ones, each counted in ``dropped``
(``semrec_impressions_dropped_total`` in /metrics). A batch the store refuses is kept and tried again with the
next one, within the same bound.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache, partial

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import PoolProxiedConnection

from app.store import impression_users
from app.store.models import ImpressionAnswer

log = logging.getLogger("semrec.impressions")
RETENTION_EVERY_S = 3600.0
RETENTION_BATCH = 10_000  # answers per DELETE: no long lock on the table
RETENTION_BATCHES = 100  # per pass; the next pass (an hour later) goes on
SYNC_EVERY_S = 1.0  # on SQLite, the first commit after this long since the last synced one waits for the disk


class ImpressionLog:
    """The app's one log of what was shown (``app.state.impressions``), shared by the request threads.

    ``sessions`` makes the store's sessions (retention's deletes; the writer takes a connection of its own from
    their engine); ``capacity`` answers wait in memory at most; ``flush_seconds`` and
    ``retention_days`` as the settings of the same names; ``enabled`` False records nothing (answers still carry
    their ids); ``write_lock`` is held around each write (``app.store.db.one_writer``: on SQLite, queued behind
    this process's other writes rather than polling for the file lock). ``start()`` runs the writer thread;
    without it, ``flush()`` writes on demand (tests, tools)."""

    def __init__(self, sessions: sessionmaker[Session], capacity: int = 20_000, flush_seconds: float = 0.2,
                 retention_days: float = 90.0, enabled: bool = True,
                 write_lock: contextlib.AbstractContextManager | None = None) -> None:
        self.sessions = sessions
        self.write_lock = write_lock if write_lock is not None else contextlib.nullcontext()
        self.enabled = enabled
        self.capacity = capacity
        self.flush_seconds = flush_seconds
        self.retention = timedelta(days=retention_days)
        self.written = 0  # impression rows stored
        self.dropped = 0  # answers dropped because the buffer was full
        self.failures = 0  # flushes the store refused
        self._queue: deque[tuple] = deque(maxlen=capacity)
        self._held: list[tuple] = []  # answers of a batch the store refused, tried again first
        self._flush_lock = threading.Lock()  # one writer at a time (the thread, a route, close)
        self._count_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_retention = 0.0
        self._conn: PoolProxiedConnection | None = None  # the writer's own, from its first flush (under _flush_lock)
        self._synced = 0.0  # when a commit last waited for the disk (SQLite)
        self._sqlite, self._mark = True, "?"  # the store; its driver's mark

    def record(self, recommendation_id: str, route: str, model_version: str | None, user_id: str | None,
               session_id: str | None, items: Sequence[str], variant: str | None = None,
               experiment_id: str | None = None, teams: Sequence[str | None] | None = None) -> None:
        """Keep that this answer showed ``items`` (item ids, best first: position 1, 2, ...) and return at once.
        ``variant`` and ``experiment_id``: the experiment arm that made the answer; ``teams``: with
        interleaving, the variant that placed each item (aligned with ``items``), stored as that row's variant."""
        if not self.enabled or not items:
            return
        if len(self._queue) >= self.capacity:  # the append below pushes the oldest out
            with self._count_lock:
                self.dropped += 1
        self._queue.append((recommendation_id, route, model_version, user_id, session_id, items, variant,
                            experiment_id, teams, time.time()))

    @property
    def pending(self) -> int:
        """Answers waiting to be written."""
        return len(self._queue)

    def flush(self) -> int:
        """Write every answer recorded so far, in transactions of at most ``FLUSH_ANSWERS`` answers; returns the
        rows written (a batch the store refused is kept for the next flush)."""
        written = 0
        with self._flush_lock:
            while True:
                answers = self._held
                self._held = []
                queue = self._queue
                while queue and len(answers) < FLUSH_ANSWERS:
                    try:
                        answers.append(queue.popleft())
                    except IndexError:
                        break
                if not answers:
                    return written
                try:
                    with self.write_lock:
                        rows = self._write(answers)
                except Exception as exc:
                    self._drop_connection()
                    self.failures += 1
                    self._held = answers[-self.capacity:]  # bounded as the queue is
                    log.warning("impressions not written (%s); %d answers kept for the next flush",
                                type(exc).__name__, len(self._held))
                    return written
                self.written += rows
                written += rows

    def _write(self, answers: list[tuple]) -> int:
        """One transaction of ``answers`` on the writer's connection; returns the impressions written."""
        conn = self._connection()
        sync = self._sqlite and time.monotonic() - self._synced >= SYNC_EVERY_S
        cursor = conn.cursor()
        try:
            if sync:
                cursor.execute("PRAGMA synchronous=FULL")
            rows = _insert(cursor, answers, self._mark, self._sqlite)
            conn.commit()
            if sync:
                cursor.execute("PRAGMA synchronous=NORMAL")
                self._synced = time.monotonic()
        except Exception:
            with contextlib.suppress(Exception):
                conn.rollback()
            raise
        finally:
            cursor.close()
        return rows

    def _connection(self) -> PoolProxiedConnection:
        """The writer's driver connection, taken from the engine's pool once and kept, set to commit without
        waiting for the disk; never given back to the pool, whose connections the shop's writes use."""
        if self._conn is None:
            engine = self.sessions.kw["bind"]
            conn = engine.raw_connection()
            cursor = conn.cursor()
            self._sqlite = engine.dialect.name == "sqlite"
            cursor.execute("PRAGMA synchronous=NORMAL" if self._sqlite else "SET synchronous_commit TO off")
            cursor.close()
            conn.commit()
            self._mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
            self._conn = conn
        return self._conn

    def _drop_connection(self) -> None:
        """Close the writer's connection for good (after a failure it may be broken; the next flush takes
        another)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.invalidate()

    def delete_expired(self, now: datetime | None = None) -> int:
        """Delete impressions older than the retention, in bounded batches; returns how many went."""
        cutoff = (now or datetime.now(UTC)) - self.retention
        gone = 0
        for _ in range(RETENTION_BATCHES):
            with self.write_lock, self.sessions.begin() as session:
                ids = session.scalars(select(ImpressionAnswer.id).where(ImpressionAnswer.shown_at < cutoff)
                                      .limit(RETENTION_BATCH)).all()
                n = impression_users.delete_answers(session, ids) if ids else 0
            gone += n
            if n < RETENTION_BATCH:
                break
        return gone

    def index_users(self) -> None:
        """Bring the impressions' per-user index up to the log (``app.store.impression_users``), a batch a
        transaction."""
        more = True
        while more:
            with self.write_lock, self.sessions.begin() as session:
                more = impression_users.index_new(session)

    def start(self) -> ImpressionLog:
        if self.enabled and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="semrec-impressions", daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        """Stop the thread and write what is left (the app's lifespan calls it on a clean shutdown)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        if self.enabled:
            self.flush()
        with self._flush_lock:
            self._drop_connection()  # not back to the pool: it commits without waiting for the disk

    def _run(self) -> None:
        next_index = time.monotonic() + impression_users.INDEX_EVERY_S
        while not self._stop.wait(self.flush_seconds):
            try:
                self.flush()
                if time.monotonic() >= next_index:
                    next_index = time.monotonic() + impression_users.INDEX_EVERY_S
                    self.index_users()
                if time.monotonic() >= self._next_retention:
                    self._next_retention = time.monotonic() + RETENTION_EVERY_S
                    if gone := self.delete_expired():
                        log.info("impressions: %d older than the retention deleted", gone)
            except Exception:
                log.exception("impressions: flush failed")


FLUSH_ANSWERS = 2_000  # per transaction: a backlog is written in steps, never one long hold of the write lock
ROWS_PER_INSERT = 90  # answers per statement: 900 parameters, under the oldest SQLite's limit of 999
COLUMNS = ("recommendation_id, user_id, session_id, model_version, route, variant, experiment_id, shown_at, items, "
           "teams")


def _insert(cursor, answers: list[tuple], mark: str, sqlite: bool) -> int:
    """Write ``answers`` (as ``record`` kept them), a row each with its items as a JSON array (any sequence:
    ``default=list``), as plain values on the driver's ``cursor``: the ORM's insert would bind every value in the
    interpreter the answers share. On SQLite ``shown_at`` as the ORM's text, in multi-row INSERTs of up to
    ``ROWS_PER_INSERT`` answers, where a statement a row paid the driver's per-statement work on each; on
    PostgreSQL in one ``executemany``, which psycopg pipelines, and which took a third less of this process's
    CPU than the multi-row form there (docs/online.md, "Eleventh round"). Returns the impressions (items)
    written."""
    stamp = _sqlite_time if sqlite else partial(datetime.fromtimestamp, tz=UTC)
    rows = [(recommendation_id, user_id, session_id, version, route, variant, experiment_id, stamp(at),
             orjson.dumps(items, default=list).decode(),
             orjson.dumps(teams, default=list).decode() if teams is not None else None)
            for recommendation_id, route, version, user_id, session_id, items, variant, experiment_id, teams, at
            in answers]
    if not sqlite:
        cursor.executemany(_insert_sql(mark, 1), rows)
    else:
        for start in range(0, len(rows), ROWS_PER_INSERT):
            chunk = rows[start:start + ROWS_PER_INSERT]
            cursor.execute(_insert_sql(mark, len(chunk)), [value for row in chunk for value in row])
    return sum(len(answer[5]) for answer in answers)


@lru_cache(maxsize=256)  # a mark or two, by 1-90 rows
def _insert_sql(mark: str, rows: int) -> str:
    row = "(" + ", ".join([mark] * 10) + ")"
    return f"INSERT INTO impression_answers ({COLUMNS}) VALUES " + ", ".join([row] * rows)


def _sqlite_time(at: float) -> str:
    """``at`` (seconds since the epoch) as SQLAlchemy keeps a UTC datetime in SQLite, 'YYYY-MM-DD
    HH:MM:SS.ffffff', so the rows compare with the ORM's bounds as times. Made here rather than by the driver
    from a ``datetime``: a third of the cost, and the driver's own text leaves out '.000000' at a whole second,
    which then sorts before the same time written by the ORM."""
    second, micro = divmod(round(at * 1_000_000), 1_000_000)
    return f"{_utc_second(second)}.{micro:06d}"


@lru_cache(maxsize=4)
def _utc_second(second: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(second))
