"""Ingestion throughput over HTTP: POST N interactions in batches to a semrec server and print rows/s.

Against a running server:
    python -m scripts.bench_ingest --url http://127.0.0.1:8000 --key KEY
Or let the script start one (`python -m app`) on a fresh store of each kind, one after the other:
    python -m scripts.bench_ingest --spawn sqlite --spawn postgresql
The request bodies are serialised before the clock starts, so the figure is the server's, not the client's.
"""

import argparse
import asyncio
import json
import os
import random
import tempfile
import time
import uuid
from contextlib import contextmanager

import httpx

from scripts.lib.service import WRITE_KEY, Api

PG_ADMIN_URL = os.environ.get("SEMREC_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
TYPES = ["view"] * 5 + ["click"] * 3 + ["cart", "purchase", "rating", "rating"]


def make_bodies(n: int, batch: int, users: int, items: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    run = uuid.uuid4().hex[:8]
    bodies = []
    for start in range(0, n, batch):
        events = []
        for k in range(start, min(n, start + batch)):
            kind = rng.choice(TYPES)
            e = {"user_id": f"u{rng.randrange(users)}", "item_id": f"i{rng.randrange(items)}", "type": kind,
                 "timestamp": f"2026-{1 + k % 12:02d}-{1 + k % 28:02d}T{k % 24:02d}:00:00Z",
                 "event_id": f"{run}-{k}"}
            if kind == "rating":
                e["value"] = rng.randint(1, 5)
                if rng.random() < 0.3:
                    e["text"] = "Solid quality, arrived quickly, would buy again."
            events.append(e)
        bodies.append(json.dumps({"interactions": events}).encode())
    return bodies


async def post_all(url: str, key: str, bodies: list[bytes], concurrency: int) -> tuple[float, int]:
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    accepted = 0
    headers = {"X-API-Key": key, "content-type": "application/json"}

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal accepted
        while not queue.empty():
            body = queue.get_nowait()
            r = await client.post("/v1/interactions", content=body, headers=headers)
            r.raise_for_status()
            accepted += r.json()["accepted"]

    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        await client.post("/v1/interactions", content=bodies[0][:0] or b'{"interactions": []}', headers=headers)
        start = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        return time.perf_counter() - start, accepted


@contextmanager
def spawned_server(kind: str, workers: int):
    """`python -m app` on a fresh SQLite file or a fresh PostgreSQL database, dropped afterwards."""
    tmp = tempfile.mkdtemp(prefix="semrec-bench-")
    dbname = None
    if kind == "sqlite":
        db_url = f"sqlite:///{tmp}/semrec.db"
    else:
        import psycopg

        dbname = f"semrec_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{dbname}"')
        db_url = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{dbname}"
    env = {**os.environ, "SEMREC_DATABASE_URL": db_url, "SEMREC_DATA_DIR": tmp, "SEMREC_API_KEYS": f"{WRITE_KEY}:write"}
    api = Api(env, None, workers=workers)
    try:
        yield api.wait_ready(timeout=60).base, WRITE_KEY
    finally:
        api.terminate(timeout=30)
        if dbname:
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url")
    p.add_argument("--key", default=os.environ.get("SEMREC_KEY", ""))
    p.add_argument("--spawn", action="append", choices=["sqlite", "postgresql"], default=[])
    p.add_argument("--workers", type=int, default=1, help="uvicorn workers of a spawned server")
    p.add_argument("-n", type=int, default=200_000, help="interactions to post")
    p.add_argument("--batch", type=int, default=5_000)
    p.add_argument("--concurrency", type=int, default=4, help="requests in flight")
    p.add_argument("--users", type=int, default=20_000)
    p.add_argument("--items", type=int, default=5_000)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    if not args.url and not args.spawn:
        p.error("give --url (a running server) or --spawn sqlite|postgresql")

    targets = [("server", None)] if args.url else [(kind, kind) for kind in args.spawn]
    for label, kind in targets:
        bodies = make_bodies(args.n, args.batch, args.users, args.items, args.seed)
        if kind:
            with spawned_server(kind, args.workers) as (url, key):
                seconds, accepted = asyncio.run(post_all(url, key, bodies, args.concurrency))
        else:
            seconds, accepted = asyncio.run(post_all(args.url, args.key, bodies, args.concurrency))
        print(f"{label:10s} {accepted:>9,d} interactions in {seconds:6.2f} s = {accepted / seconds:>9,.0f} rows/s"
              f"  (batch {args.batch}, {args.concurrency} in flight, workers {args.workers})", flush=True)


if __name__ == "__main__":
    main()
