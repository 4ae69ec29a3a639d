"""A fresh semrec for the evaluation through the service (``service_run``): ``python -m app`` on a free port and
a fresh store (a SQLite file in a temporary data dir, or a PostgreSQL database made for the run and dropped
after it, with ``python -m app.worker`` beside it), until it is ready; the client it is spoken to with.

    with spawned_service() as svc:
        svc.call("GET", "/v1/models")
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

KEY = "eval-key"


@dataclass
class Service:
    url: str
    key: str
    database: str  # "sqlite" or "postgresql"
    client: httpx.Client
    log: Path  # the server's (and worker's) stdout and stderr

    def call(self, method: str, path: str, **kw) -> httpx.Response:
        return self.client.request(method, path, **kw)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@contextmanager
def spawned_service(database_url: str | None = None, source: Path | None = None,
                    ready_timeout_s: float = 120, env: dict[str, str] | None = None,
                    workers: int = 1) -> Iterator[Service]:
    """``python -m app`` on a fresh store: a SQLite file in a temporary data dir, or, given a PostgreSQL URL
    (of any database on the server, used to connect for CREATE/DROP), a new database on that server, dropped
    afterwards; on PostgreSQL a ``python -m app.worker`` runs the jobs. ``source``: the folder whose ``app``
    package runs (default: the current one's). ``env``: more settings (``SEMREC_*``) for the service;
    ``workers``: uvicorn worker processes."""
    tmp = Path(tempfile.mkdtemp(prefix="semrec-eval-service-"))
    admin_url, dbname = None, None
    if database_url and database_url.startswith(("postgres://", "postgresql")):
        import psycopg

        admin_url = database_url.replace("postgresql+psycopg://", "postgresql://").replace("postgres://",
                                                                                            "postgresql://", 1)
        dbname = f"semrec_eval_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{dbname}"')
        db_url = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1) + f"/{dbname}"
    elif database_url:
        raise ValueError("--database-url takes a postgresql:// URL (SQLite is the default: a fresh file)")
    else:
        db_url = f"sqlite:///{tmp}/semrec.db"
    port = _free_port()
    env = {**os.environ, **(env or {}), "SEMREC_DATABASE_URL": db_url, "SEMREC_DATA_DIR": str(tmp),
           "SEMREC_API_KEYS": f"{KEY}:write"}
    env.pop("SEMREC_API_KEYS_FILE", None)
    log_path = tmp / "service.log"
    log = log_path.open("ab")
    cwd = source or Path.cwd()
    procs = [subprocess.Popen([sys.executable, "-m", "app", "--port", str(port), "--workers", str(workers)], env=env,
                              stdout=log,
                              stderr=subprocess.STDOUT, cwd=cwd)]
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + ready_timeout_s
        while True:
            if procs[0].poll() is not None:
                raise RuntimeError(f"the service exited ({procs[0].returncode}):\n{log_tail(log_path)}")
            try:
                if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the service was not ready within {ready_timeout_s:.0f} s:\n{log_tail(log_path)}")
            time.sleep(0.2)
        if dbname:  # the schema is current now (the API migrated it), so the worker starts on it
            procs.append(subprocess.Popen([sys.executable, "-m", "app.worker"], env=env, stdout=log,
                                          stderr=subprocess.STDOUT, cwd=cwd))
        limits = httpx.Limits(max_connections=8, max_keepalive_connections=8)
        with httpx.Client(base_url=url, headers={"X-API-Key": KEY}, timeout=600, limits=limits) as client:
            try:
                yield Service(url, KEY, "postgresql" if dbname else "sqlite", client, log_path)
            except (RuntimeError, httpx.HTTPError) as exc:  # the server's side of it, before the log goes
                raise RuntimeError(f"{exc}\nservice log, last lines:\n{log_tail(log_path, 8)}") from exc
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)
        if dbname:
            import psycopg

            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
