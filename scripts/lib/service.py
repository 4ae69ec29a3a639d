"""Running the service for scripts and tests: a fresh store (a SQLite file, or a PostgreSQL database made for
the run and dropped after it), the API and worker processes on a free port (``Api``: every way a script or a
test starts a server is built on it), waiting until they are ready, their memory, and a trained model through
the API.

    with fresh_store("sqlite", folder) as url:
        api = Api(service_env(url, folder / "data"), folder / "api.log").wait_ready()
        with api.client() as http:
            seed_dataset(http)
            job = train(http)
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from app.evaluation.service_run import Service as EvaluatedService

ROOT = Path(__file__).resolve().parents[2]
PG_ADMIN_URL = os.environ.get("SEMREC_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
WRITE_KEY, READ_KEY = "run-write-key", "run-read-key"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
                  "SEMREC_API_KEYS": f"{WRITE_KEY}:write,{READ_KEY}:read"} | extra


class Process:
    """A service process (`python -m app` or `python -m app.worker`) logging to a file beside the data."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path | None, cwd: Path | None = None) -> None:
        """``args`` after the interpreter (``["-m", "app", ...]``), or a whole command where its first is an
        executable path; ``log_path`` None: the output is dropped; ``cwd``: the folder whose ``app`` runs
        (default: this checkout's)."""
        self.log_path = log_path
        command = args if args and Path(args[0]).is_absolute() else [sys.executable, *args]
        with open(log_path if log_path else os.devnull, "ab") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(command, env=env, cwd=cwd or ROOT, stdout=log, stderr=subprocess.STDOUT)

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
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path else ""


class Api(Process):
    """``python -m app`` on a free port (or ``port``), or ``command(port, workers)`` for another server."""

    def __init__(self, env: dict[str, str], log_path: Path | None, port: int | None = None, workers: int = 1,
                 command: Callable[[int, int], list[str]] | None = None, cwd: Path | None = None) -> None:
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        args = command(self.port, workers) if command else ["-m", "app", "--port", str(self.port), "--workers",
                                                            str(workers)]
        super().__init__(args, env, log_path, cwd)

    def wait_ready(self, timeout: float = 90, serving: bool = False) -> Api:
        """Until /readyz answers 200 (and, with ``serving``, a model version is served)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                r = httpx.get(f"{self.base}/readyz", timeout=5)
                if r.status_code == 200 and (not serving or "serving" in r.json()["checks"].get("model", "")):
                    return self
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"API exited with {self.proc.returncode}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                self.terminate()
                raise TimeoutError(f"API not ready after {timeout} s:\n{self.log_tail()}")
            time.sleep(0.2)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base, headers={"X-API-Key": WRITE_KEY}, timeout=60)


def start_worker(env: dict[str, str], log_path: Path | None, cwd: Path | None = None) -> Process:
    return Process(["-m", "app.worker"], env, log_path, cwd)


@contextmanager
def as_is(url: str) -> Iterator[str]:
    yield url


@contextmanager
def spawned_service(database_url: str | None = None, source: Path | None = None, ready_timeout_s: float = 120,
                    env: dict[str, str] | None = None, workers: int = 1) -> Iterator[EvaluatedService]:
    """The service the evaluation protocols speak to (``app.evaluation.service_run``): ``python -m app`` on a
    fresh store, a SQLite file in a temporary data dir, or, given a PostgreSQL URL (of any database on the
    server, used for CREATE/DROP), a new database there, dropped afterwards, with ``python -m app.worker``
    beside it. ``source``: the folder whose ``app`` runs (default: this checkout's); ``env``: more settings
    (``SEMREC_*``); ``workers``: uvicorn worker processes."""
    if database_url and not database_url.startswith(("postgres://", "postgresql")):
        raise ValueError("--database-url takes a postgresql:// URL (SQLite is the default: a fresh file)")
    admin = database_url.replace("postgresql+psycopg://", "postgresql://").replace("postgres://", "postgresql://", 1) \
        if database_url else None
    tmp = Path(tempfile.mkdtemp(prefix="semrec-eval-service-"))
    log_path = tmp / "service.log"
    try:
        with fresh_store("postgresql" if admin else "sqlite", tmp, admin or PG_ADMIN_URL) as url:
            settings = {**os.environ, **(env or {}), "SEMREC_DATABASE_URL": url, "SEMREC_DATA_DIR": str(tmp),
                        "SEMREC_API_KEYS": f"{WRITE_KEY}:write"}
            settings.pop("SEMREC_API_KEYS_FILE", None)
            processes = [Api(settings, log_path, workers=workers, cwd=source)]
            try:
                processes[0].wait_ready(ready_timeout_s)
                if admin:  # the schema is current now (the API migrated it), so the worker starts on it
                    processes.append(start_worker(settings, log_path, source))
                limits = httpx.Limits(max_connections=8, max_keepalive_connections=8)
                with httpx.Client(base_url=processes[0].base, headers={"X-API-Key": WRITE_KEY}, timeout=600,
                                  limits=limits) as client:
                    try:
                        yield EvaluatedService(processes[0].base, WRITE_KEY, "postgresql" if admin else "sqlite",
                                               client, log_path)
                    except (RuntimeError, httpx.HTTPError) as exc:  # the server's side of it, before the log goes
                        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-8:])
                        raise RuntimeError(f"{exc}\nservice log, last lines:\n{tail}") from exc
            finally:
                for process in reversed(processes):
                    process.terminate(timeout=30)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def start_server(settings_env: dict, workers: int, command: Callable[[int, int], list[str]] | None = None
                 ) -> tuple[subprocess.Popen, str]:
    """A server with no embedded worker (``python -m app``, or ``command(port, workers)``), once it serves a
    model: (its process, its base URL)."""
    env = {**os.environ, **settings_env, "SEMREC_API_KEYS": f"{READ_KEY}:read,{WRITE_KEY}:write",
           "SEMREC_EMBEDDED_WORKER": "false"}
    api = Api(env, None, workers=workers, command=command).wait_ready(timeout=120, serving=True)
    return api.proc, api.base


def server_pids(proc: subprocess.Popen) -> list[int]:
    """The server process, then its workers (with --workers above 1 the first is uvicorn's supervisor)."""
    return [proc.pid] + [int(p) for p in subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True,
                                                         text=True).stdout.split()]


def memory_mb(pid: int) -> dict:
    """RSS and PSS of one process (/proc/<pid>/smaps_rollup). PSS divides each shared page among the processes
    that map it, so the PSS of all a server's processes add up to what the server costs the machine."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except FileNotFoundError:
        return {"rss_mb": 0.0, "pss_mb": 0.0}
    kb = {name: int(re.search(rf"^{name}:\s+(\d+) kB", text, re.M).group(1)) for name in ("Rss", "Pss")}
    return {"rss_mb": kb["Rss"] / 1024, "pss_mb": kb["Pss"] / 1024}


def rss_mb(proc: subprocess.Popen) -> float:
    """Resident memory of the server process and its workers, summed (shared pages counted in each)."""
    return sum(memory_mb(pid)["rss_mb"] for pid in server_pids(proc))


class Service:
    """`python -m app` (and, unless the worker is embedded, `python -m app.worker`) on one store; their output
    goes to api.log and worker.log in the data dir, where a 5xx's traceback can be read afterwards."""

    def __init__(self, database_url: str, data_dir: Path, embedded_worker: bool, env: dict | None = None) -> None:
        self.data_dir = data_dir
        self.embedded_worker = embedded_worker
        self.env = {**os.environ, "SEMREC_DATABASE_URL": database_url, "SEMREC_DATA_DIR": str(data_dir),
                    "SEMREC_API_KEYS": f"{WRITE_KEY}:write,{READ_KEY}:read",
                    "SEMREC_EMBEDDED_WORKER": str(embedded_worker).lower(), **(env or {})}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.api: subprocess.Popen | None = None
        self.worker: subprocess.Popen | None = None

    def start(self, timeout_s: float = 300) -> None:
        api = Api(self.env, self.data_dir / "api.log", port=self.port)
        self.api = api.proc
        if not self.embedded_worker:
            self.worker = start_worker(self.env, self.data_dir / "worker.log").proc
        api.wait_ready(timeout=timeout_s)

    def rss_mb(self) -> dict[str, float]:
        rss = {"server": rss_mb(self.api)}
        if self.worker is not None:
            rss["worker"] = rss_mb(self.worker)
        return rss

    def stop(self) -> None:
        for proc in (self.worker, self.api):  # the worker first: it hands a running job back on SIGTERM
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()

    def log_errors(self) -> list[str]:
        """Tracebacks and ERROR lines the processes logged (a 5xx leaves one)."""
        lines = []
        for name in ("api.log", "worker.log"):
            path = self.data_dir / name
            if path.exists():
                lines += [f"{name}: {line[:300]}" for line in path.read_text(errors="replace").splitlines()
                          if "Traceback" in line or re.search(r"\bERROR\b|\"level\": ?\"(ERROR|CRITICAL)\"", line)]
        return lines


# ---------------------------------------------------------------- a trained model through the API

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
