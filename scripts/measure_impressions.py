"""Storage per impression (an item shown), on SQLite and PostgreSQL: 100,000 impressions of 10-item answers
written through the impression log (a row per answer, ``impression_answers``) and indexed by user
(``impression_users``), then the tables' and their indexes' bytes divided by the impressions.

    python -m scripts.measure_impressions [--rows 100000]

Prints one line per store (docs/online.md quotes them).
"""

import argparse
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import text

from app.core.config import Settings
from app.measure.impressions import ImpressionLog
from app.store import migrate
from app.store.db import make_engine, make_sessionmaker
from scripts.lib import service


def measure(kind: str, folder: Path, rows: int) -> str:
    with service.fresh_store(kind, folder) as url:
        settings = Settings(database_url=url, data_dir=folder / "data", _env_file=None)
        engine = make_engine(settings)
        migrate.upgrade(engine)
        log = ImpressionLog(make_sessionmaker(engine), capacity=rows)
        for n in range(rows // 10):  # a storefront's typical answer: 10 items, a known user, a model version
            log.record(uuid.uuid4().hex, "recommendations", "20261206-081500-1a2b3c4d", f"u-{n % 50_000:06d}", None,
                       [f"sku-{(n * 7 + k) % 100_000:06d}" for k in range(10)])
        started = time.perf_counter()
        written = log.flush()
        seconds = time.perf_counter() - started
        started = time.perf_counter()
        log.index_users()
        indexing = time.perf_counter() - started
        tables = ("impression_answers", "impression_users")
        with engine.connect() as conn:
            if kind == "sqlite":
                sizes = dict(conn.execute(text("SELECT name, SUM(pgsize) FROM dbstat WHERE name LIKE "
                                               "'%impression_%' GROUP BY name")).all())
                table = sum(sizes.pop(name) for name in tables)
                indexes = sum(sizes.values())
            else:
                table = indexes = 0
                for name in tables:
                    conn.execute(text(f"ANALYZE {name}"))
                    table += conn.scalar(text(f"SELECT pg_table_size('{name}')"))
                    indexes += conn.scalar(text(f"SELECT pg_indexes_size('{name}')"))
        engine.dispose()
    return (f"{kind}: {written} impressions in {seconds:.2f} s ({written / seconds:,.0f}/s), indexed by user in "
            f"{indexing:.2f} s; tables {table / written:.0f} B each, indexes {indexes / written:.0f} B, "
            f"total {(table + indexes) / written:.0f} B")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for kind in ("sqlite", "postgresql"):
            print(measure(kind, Path(folder), args.rows), flush=True)


if __name__ == "__main__":
    main()
