"""Crash safety of ingestion: kill -9 the API server while clients stream interaction batches, restart it on
the same store, and count by event_id what the store holds. Every batch that got a 2xx must be there in
full, and no batch may be there in part (a batch is one transaction).

    python scripts/chaos.py                      # both stores: a SQLite file and a fresh PostgreSQL database
    python scripts/chaos.py --rounds 10 --database-url postgresql://postgres@127.0.0.1:5432/test

Per store it prints: batches sent, acknowledged (2xx), found in full after the restart, found in part
(must be 0) and acknowledged but missing (lost acks, must be 0); the exit status is 1 if either is not 0.
tests/e2e/test_crash.py and test_shutdown.py drive the same functions, and the helpers here that train a
model through the API.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, select  # noqa: E402

from app.core.config import Settings  # noqa: E402
from app.store.models import Interaction  # noqa: E402

PG_ADMIN_URL = os.environ.get("SEMREC_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
KEY = "chaos-write-key"
TYPES = ["view", "view", "click", "click", "cart", "purchase", "rating"]


# ---------------------------------------------------------------- stores and processes


@contextmanager
def fresh_store(kind: str, folder: Path, pg_admin_url: str = PG_ADMIN_URL) -> Iterator[str]:
    """A SQLite file in ``folder``, or a PostgreSQL database made for the run and dropped after it."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'semrec.db'}"
        return
    import psycopg

    name = f"semrec_run_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{pg_admin_url.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def service_env(database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEMREC_")}
    return env | {"SEMREC_DATABASE_URL": database_url, "SEMREC_DATA_DIR": str(data_dir),
                  "SEMREC_API_KEYS": f"{KEY}:write"} | extra


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Process:
    """A service process (`python -m app` or `python -m app.worker`) logging to a file beside the data."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        with open(log_path, "ab") as log:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen([sys.executable, *args], env=env, cwd=ROOT, stdout=log,
                                         stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def kill9(self) -> None:
        """The crash: no handler runs, nothing is flushed or released."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def terminate(self, timeout: float = 60) -> int:
        """The polite stop (SIGTERM); returns the exit status."""
        if self.proc.poll() is None:
            self.proc.terminate()
        return self.proc.wait(timeout=timeout)

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]


class Api(Process):
    def __init__(self, env: dict[str, str], log_path: Path, port: int | None = None, workers: int = 1) -> None:
        self.port = port or _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        super().__init__(["-m", "app", "--port", str(self.port), "--workers", str(workers)], env, log_path)

    def wait_ready(self, timeout: float = 90) -> Api:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{self.base}/readyz", timeout=5).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"API exited with {self.proc.returncode}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"API not ready after {timeout} s:\n{self.log_tail()}")
            time.sleep(0.2)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base, headers={"X-API-Key": KEY}, timeout=60)


def start_worker(env: dict[str, str], log_path: Path) -> Process:
    return Process(["-m", "app.worker"], env, log_path)


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
        with httpx.Client(base_url=self.base, headers={"X-API-Key": KEY}, timeout=60) as http:
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


# ---------------------------------------------------------------- a trained model (for the job tests)

TOPICS = ["trail running shoes", "espresso machine", "waterproof hiking jacket", "mechanical keyboard",
          "yoga mat", "cast iron skillet", "noise cancelling headphones", "board game"]


def seed_dataset(http: httpx.Client, users: int = 300, items: int = 200, events: int = 3000, seed: int = 0) -> None:
    """Titled items and users who mostly rate and click items of two favourite topics."""
    rng = random.Random(seed)
    catalog = [{"item_id": f"i{n}", "title": f"{TOPICS[n % len(TOPICS)]} model {n}", "category": f"c{n % 8}",
                "price": float(10 + n % 90)} for n in range(items)]
    http.post("/v1/items/batch", json={"items": catalog}).raise_for_status()
    favourites = {u: rng.sample(range(len(TOPICS)), 2) for u in range(users)}
    batch = []
    for k in range(events):
        u = rng.randrange(users)
        item = rng.randrange(items // len(TOPICS)) * len(TOPICS) + rng.choice(favourites[u])
        event = {"user_id": f"u{u}", "item_id": f"i{item % items}", "event_id": f"seed-{seed}-{k}"}
        event |= {"type": "rating", "value": rng.randint(3, 5)} if rng.random() < 0.6 else {"type": "click"}
        batch.append(event)
    for start in range(0, len(batch), 1000):
        http.post("/v1/interactions", json={"interactions": batch[start:start + 1000]}).raise_for_status()


def wait_job(http: httpx.Client, job_id: str, until=lambda job: job["status"] not in ("queued", "running"),
             timeout: float = 120) -> dict:
    """Poll GET /v1/jobs/{id} until ``until(job)``; the deadline is for waiting, not a speed claim."""
    deadline = time.monotonic() + timeout
    while True:
        job = http.get(f"/v1/jobs/{job_id}").json()
        if until(job):
            return job
        if time.monotonic() > deadline:
            raise TimeoutError(f"job {job_id} still {job['status']}: {job}")
        time.sleep(0.1)


def catchable_training(finished: dict, seconds: float = 4.0) -> dict:
    """Training parameters for a job that runs about ``seconds`` in epochs on this machine now, as timed by
    the epochs of a ``finished`` training job: long enough to be caught between epochs, short enough to run
    again. A slow learning rate and a long patience keep it from stopping early."""
    epoch_s = max(sum(e["seconds"] for e in finished["result"]["epochs"]) / len(finished["result"]["epochs"]), 1e-3)
    return {"epochs": int(min(400, max(20, seconds / epoch_s))), "patience": 100, "lr": 0.001}


def in_epochs(job: dict) -> bool:
    """Running and past its first training epoch (not in the embedding step that comes first): a training job's
    ``phase`` names the fit in progress, ``ranking`` or ``rating``."""
    result = job.get("result") or {}
    return (job["status"] == "running" and result.get("phase") in ("ranking", "rating")
            and len(result.get("epochs", [])) >= 1)


def train(http: httpx.Client, **params) -> dict:
    """Queue a training job and wait for it to end; returns the job."""
    job_id = http.post("/v1/training/jobs", json=params).json()["job_id"]
    return wait_job(http, job_id)


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
            with (fresh_store(kind, folder) if url is None else _as_is(url)) as database_url:
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


@contextmanager
def _as_is(url: str) -> Iterator[str]:
    yield url


if __name__ == "__main__":
    sys.exit(main())
