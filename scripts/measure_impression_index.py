"""What a copy into the impressions' per-user index costs as the table grows (``app.store.impression_users``), on
SQLite: answers of 10 items for 20,000 users written through the impression log, then at each size three copies
of ``--copies`` new answers each (one copy's worth at the bench's rate every 10 s), timed in CPU and wall time;
then what finding the answers of one user and of 2,000 users costs with that many answers in the unindexed tail.

    python -m scripts.measure_impression_index [--sizes 100000,300000,600000,1000000] [--copies 13000,78000]

Prints a line per size and copy (docs/online.md, "Twelfth round", quotes them).
"""

import argparse
import random
import tempfile
import time
from pathlib import Path

from sqlalchemy import select

from app.core.config import Settings
from app.measure.impressions import ImpressionLog
from app.store import impression_users, migrate
from app.store.db import make_engine, make_sessionmaker
from app.store.models import ImpressionAnswer

USERS = [f"u{n}" for n in range(20_000)]
ITEMS = [f"i{n}" for n in range(100_000)]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="100000,300000,600000,1000000", help="answers indexed before each copy")
    p.add_argument("--copies", default="13000,78000", help="answers per copy (and in the tail for the lookups)")
    args = p.parse_args()
    sizes, copies = [int(n) for n in args.sizes.split(",")], [int(n) for n in args.copies.split(",")]
    folder = Path(tempfile.mkdtemp(prefix="semrec-index-"))
    engine = make_engine(Settings(data_dir=folder, database_url="", _env_file=None))
    migrate.upgrade(engine)
    sessions = make_sessionmaker(engine)
    log = ImpressionLog(sessions, capacity=10**7)
    rnd = random.Random(3)
    written = 0

    def write(answers: int) -> None:
        nonlocal written
        for _ in range(answers):
            log.record(f"r{written}", "recommendations", "v1", rnd.choice(USERS), None, rnd.sample(ITEMS, 10))
            written += 1
        log.flush()

    for size in sizes:
        write(size - written)
        log.index_users()
        for copy in copies:
            cpu, wall = [], []
            for _ in range(3):
                write(copy)
                started, thread = time.perf_counter(), time.thread_time()  # SQLite works in this thread
                log.index_users()
                wall.append(1000 * (time.perf_counter() - started))
                cpu.append(1000 * (time.thread_time() - thread))
            print(f"{size:>9,} answers indexed, a copy of {copy:>6,}: {sum(cpu) / 3 / copy * 1000:5.1f} µs of CPU an "
                  f"answer (CPU ms {[round(x) for x in cpu]}, wall ms {[round(x) for x in wall]})", flush=True)
        for tail in copies:
            write(tail)
            with sessions() as session:
                for users in (1, 2000):
                    wanted = rnd.sample(USERS, users)
                    started = time.perf_counter()
                    theirs = impression_users.shown_to(session, wanted)
                    found = session.execute(select(ImpressionAnswer.id).where(ImpressionAnswer.id.in_(theirs))).all()
                    print(f"{'':>9} {tail:>6,} answers in the tail: {users:>4} users' answers ({len(found):,}) in "
                          f"{1000 * (time.perf_counter() - started):.1f} ms", flush=True)
            log.index_users()
    engine.dispose()


if __name__ == "__main__":
    main()
