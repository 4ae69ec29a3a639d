"""Engine and sessions. SQLite gets WAL, full fsync and a busy timeout so a 2xx is a durable commit."""

import contextlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings


def make_engine(settings: Settings) -> Engine:
    url = settings.sqlalchemy_url
    if url.startswith("sqlite"):
        _private_data_dir(settings)
        engine = create_engine(
            url,
            connect_args={"timeout": 30, "check_same_thread": False},
            pool_size=settings.db_pool_size,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        with engine.connect():  # create the file now, private (its -wal and -shm files inherit the mode)
            pass
        if engine.url.database and Path(engine.url.database).exists():
            os.chmod(engine.url.database, 0o600)
        return engine
    return create_engine(url, pool_size=settings.db_pool_size, max_overflow=settings.db_pool_size, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _private_data_dir(settings: Settings) -> None:
    """The data dir holds the database and API keys: readable by the service's user only."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(settings.data_dir, 0o700)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: committed whole on success, rolled back whole on any error."""
    with factory() as session, session.begin():
        yield session


_sqlite_writes = threading.Lock()


def one_writer(settings: Settings):
    """On SQLite, one write transaction of this process at a time, queued on a lock: SQLite admits one writer
    and makes the others poll with sleeps of up to 100 ms, which short, frequent writes (conversation
    messages) turn into tail latency. Elsewhere, no lock: PostgreSQL locks rows."""
    return _sqlite_writes if settings.is_sqlite else contextlib.nullcontext()
