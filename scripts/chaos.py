"""Crash safety of ingestion: kill -9 the API server while clients stream interaction batches, restart it on
the same store, and count by event_id what the store holds. Every batch that got a 2xx must be there in
full, and no batch may be there in part (a batch is one transaction).

    python -m scripts.chaos                      # both stores: a SQLite file and a fresh PostgreSQL database
    python -m scripts.chaos --rounds 10 --database-url postgresql://postgres@127.0.0.1:5432/test

Per store it prints: batches sent, acknowledged (2xx), found in full after the restart, found in part
(must be 0) and acknowledged but missing (lost acks, must be 0); the exit status is 1 if either is not 0.
tests/e2e/test_crash.py and test_shutdown.py drive the same functions, and the helpers here that train a
model through the API.
"""

from __future__ import annotations

import argparse
import itertools
import random
import shutil
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import create_engine, select

from app.core.config import Settings
from app.store.models import Interaction
from scripts.lib.service import WRITE_KEY, Api, as_is, fresh_store, service_env

ROOT = Path(__file__).resolve().parents[1]

TYPES = ["view", "view", "click", "click", "cart", "purchase", "rating"]


# ---------------------------------------------------------------- streaming batches


@dataclass
class Batch:
    event_ids: list[str]
    acked: bool = False


@dataclass
class Streamer:
    """Client threads that post interaction batches (50-200 events, unique event_ids) until stopped, and
    remember for each batch that left the client whether it got a 2xx."""

    base: str
    run_id: str
    threads: int = 4
    seed: int = 0
    batches: list[Batch] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._numbers = itertools.count()
        self._threads = [threading.Thread(target=self._post_until_stopped, args=(n,), daemon=True)
                         for n in range(self.threads)]

    def start(self) -> Streamer:
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        """No new batch after this; those in flight go on."""
        self._stop.set()

    def join(self) -> None:
        for t in self._threads:
            t.join(timeout=90)

    def acked(self) -> int:
        with self._lock:
            return sum(b.acked for b in self.batches)

    def _post_until_stopped(self, thread: int) -> None:
        rng = random.Random(self.seed * 1000 + thread)
        with httpx.Client(base_url=self.base, headers={"X-API-Key": WRITE_KEY}, timeout=60) as http:
            while not self._stop.is_set():
                number = next(self._numbers)
                events = [_event(rng, f"{self.run_id}-{number}-{k}") for k in range(rng.randint(50, 200))]
                batch = Batch([e["event_id"] for e in events])
                try:
                    r = http.post("/v1/interactions", json={"interactions": events})
                except httpx.ConnectError:  # refused: never reached the server (it is down)
                    time.sleep(0.05)
                    continue
                except httpx.TransportError:  # the server died with the request in flight: not acknowledged
                    pass
                else:
                    batch.acked = r.is_success
                with self._lock:
                    self.batches.append(batch)


def _event(rng: random.Random, event_id: str) -> dict:
    kind = rng.choice(TYPES)
    event = {"user_id": f"cu{rng.randrange(300)}", "item_id": f"ci{rng.randrange(500)}", "type": kind,
             "event_id": event_id}
    if kind == "rating":
        event["value"] = rng.randint(1, 5)
    return event


# ---------------------------------------------------------------- counting


def stored_event_ids(database_url: str, prefix: str) -> set[str]:
    """Read the store directly (not through the API that just crashed)."""
    engine = create_engine(Settings(database_url=database_url, _env_file=None).sqlalchemy_url)
    try:
        with engine.connect() as conn:
            return set(conn.scalars(select(Interaction.event_id).where(Interaction.event_id.startswith(prefix))))
    finally:
        engine.dispose()


def tally(batches: list[Batch], stored: set[str]) -> dict[str, int]:
    found = [sum(e in stored for e in b.event_ids) for b in batches]
    return {
        "sent": len(batches),
        "acknowledged": sum(b.acked for b in batches),
        "found": sum(n == len(b.event_ids) for n, b in zip(found, batches, strict=True)),
        "partial": sum(0 < n < len(b.event_ids) for n, b in zip(found, batches, strict=True)),
        "lost_acks": sum(b.acked and n < len(b.event_ids) for n, b in zip(found, batches, strict=True)),
    }


def kill_rounds(database_url: str, data_dir: Path, rounds: int, threads: int = 4, seed: int = 0,
                report=lambda line: None) -> list[dict[str, int]]:
    """Per round: stream batches, kill -9 the API mid-stream, restart it on the same store, count."""
    rng = random.Random(seed)
    env = service_env(database_url, data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    api = Api(env, data_dir / "api.log").wait_ready()
    results = []
    try:
        for n in range(rounds):
            run_id = f"chaos-{uuid.uuid4().hex[:8]}"
            streamer = Streamer(api.base, run_id, threads, seed=seed * 100 + n).start()
            deadline = time.monotonic() + 60
            while streamer.acked() < 5 and time.monotonic() < deadline:  # well into the stream
                time.sleep(0.05)
            time.sleep(rng.uniform(0.1, 1.0))  # kill at a point no request expects
            streamer.stop()  # the batches in flight meet the kill; none is sent to a dead server after it
            api.kill9()
            streamer.join()
            api = Api(env, data_dir / "api.log", port=api.port).wait_ready()
            counts = tally(streamer.batches, stored_event_ids(database_url, f"{run_id}-"))
            results.append(counts)
            report(f"  round {n + 1}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        with api.client() as http:  # the restarted server takes new writes
            r = http.post("/v1/interactions", json={"interactions": [
                {"user_id": "cu0", "item_id": "ci0", "type": "view", "event_id": f"after-{uuid.uuid4().hex}"}]})
            r.raise_for_status()
    finally:
        api.terminate()
    return results


def total(results: list[dict[str, int]]) -> dict[str, int]:
    return {k: sum(r[k] for r in results) for k in results[0]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="kill -9 rounds per store")
    parser.add_argument("--database-url", help="one store to use as is; default: a fresh SQLite file and a "
                        "fresh PostgreSQL database (at SEMREC_TEST_PG_URL's server)")
    parser.add_argument("--threads", type=int, default=4, help="concurrent client threads")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="semrec-chaos-"))
    failed = False
    try:
        stores = [("given", args.database_url)] if args.database_url else [("sqlite", None), ("postgresql", None)]
        for kind, url in stores:
            with (fresh_store(kind, folder) if url is None else as_is(url)) as database_url:
                label = "PostgreSQL" if database_url.startswith("postgres") else "SQLite"
                print(f"{label}: {args.rounds} rounds of kill -9 while {args.threads} clients post batches",
                      flush=True)
                results = kill_rounds(database_url, folder / kind, args.rounds, args.threads, args.seed,
                                      report=lambda line: print(line, flush=True))
                t = total(results)
                print(f"{label} total: batches sent {t['sent']}, acknowledged {t['acknowledged']}, found after "
                      f"restart {t['found']}, partial {t['partial']}, lost acks {t['lost_acks']}", flush=True)
                failed |= bool(t["partial"] or t["lost_acks"])
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
