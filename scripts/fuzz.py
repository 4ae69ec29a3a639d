"""Bad input at scale: schemathesis against a live server's own OpenAPI, on SQLite and on PostgreSQL.

    python -m scripts.fuzz                              # both stores, 50 examples per operation and mode
    python -m scripts.fuzz --store sqlite --max-examples 100 --json fuzz.json

For each store: a fresh store with a small synthetic catalog and an active model (so generated requests reach
real scoring), then `python -m app` as a subprocess (jobs are queued but not run: no worker). Every operation of
/openapi.json gets `--max-examples` positive and as many negative (schema-violating) generated requests, with a
valid write key; operations with an item or user id in the path get the same again with ids the model knows.
Then oversize bodies: a declared Content-Length over SEMREC_MAX_BODY_BYTES and a chunked body (no
Content-Length) that grows past it must each get a JSON 413 before the server has read the body whole: the
client sends only part of the declared body, and keeps the chunked one open, before it reads the answer.
Prints requests by operation and status class, and a curl command for every 5xx. Exit status 1 on any 5xx,
transport error, oversize body not refused with a JSON 413, or fewer than --min-requests requests on a store.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import socket
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from schemathesis import GenerationMode

from app.core.config import Settings
from scripts.lib.service import PG_ADMIN_URL, WRITE_KEY, Service, fresh_store
from scripts.lib.stores import synthetic_store

ROOT = Path(__file__).resolve().parents[1]

KNOWN = {"item_id": "i3", "user_id": "u0", "version": "bench-synthetic"}  # ids synthetic_store makes (+ a job)


class Tally:
    """Responses by operation and status class; a curl command for each 5xx and transport error."""

    def __init__(self) -> None:
        self.by_operation: dict[str, Counter] = defaultdict(Counter)
        self.by_status: Counter[int] = Counter()
        self.failures: list[str] = []
        self.skipped: list[str] = []

    def add(self, label: str, outcome: str, status: int | None = None) -> None:
        self.by_operation[label][outcome] += 1
        if status is not None:
            self.by_status[status] += 1

    @property
    def total(self) -> int:
        return sum(sum(c.values()) for c in self.by_operation.values())

    def count(self, outcome: str) -> int:
        return sum(c[outcome] for c in self.by_operation.values())


def curl(request: requests.PreparedRequest | None) -> str:
    """The request as a curl command line, to reproduce a failure by hand."""
    if request is None:
        return "(no request)"
    parts = ["curl", "-X", request.method, shlex.quote(request.url)]
    for name, value in request.headers.items():
        if name.lower() not in ("content-length", "accept-encoding", "connection", "user-agent"):
            parts += ["-H", shlex.quote(f"{name}: {value}")]
    if request.body:
        body = request.body.decode("utf-8", "replace") if isinstance(request.body, bytes) else str(request.body)
        parts += ["--data-raw", shlex.quote(body)]
    return " ".join(parts)


def fuzz_operation(operation, url: str, session: requests.Session, tally: Tally, examples: int, seed_: int,
                   known_ids: dict[str, str]) -> None:
    """Positive and negative cases (and positive ones with known path ids) for one operation, sent one by one."""
    modes = [("positive", operation.as_strategy(GenerationMode.POSITIVE)),
             ("negative", operation.as_strategy(GenerationMode.NEGATIVE))]
    known = {name: value for name, value in known_ids.items() if "{" + name + "}" in operation.path}
    if known:
        modes.append(("known ids", operation.as_strategy(GenerationMode.POSITIVE, path_parameters=known)))
    headers = {"X-API-Key": WRITE_KEY}
    for mode, strategy in modes:
        @seed(seed_)
        @settings(max_examples=examples, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(case=strategy)
        def send(case) -> None:
            # as tests/utils.py send_case does: the key is set after serialising, so a negative case that drops
            # the header (schemathesis treats the key as a header to violate) still reaches the route
            kwargs = case.as_transport_kwargs(base_url=url)
            kwargs["headers"] = {**(kwargs.get("headers") or {}), **headers}
            try:
                response = session.request(**kwargs, timeout=60, allow_redirects=False)
            except requests.RequestException as exc:
                tally.add(operation.label, "transport error")
                tally.failures.append(f"{type(exc).__name__}: {curl(exc.request)}")
                return
            status = response.status_code
            tally.add(operation.label, f"{status // 100}xx", status)
            if status >= 500:
                tally.failures.append(f"{status}: {curl(response.request)}\n    {response.content[:300]!r}")

        try:
            send()
        except Exception as exc:  # generation only: e.g. nothing in the schema to violate; sends never raise
            tally.skipped.append(f"{operation.label} {mode}: {type(exc).__name__}: {str(exc)[:200]}")
            print(f"  no {mode} cases for {operation.label}: {type(exc).__name__}", flush=True)


# ---- oversize bodies, over a raw socket so that the client decides how much of the body is sent ----

def read_response(sock: socket.socket, timeout_s: float) -> tuple[int, str, bytes]:
    """Status, content type and body of one HTTP/1.1 response (with Content-Length, as the service sends)."""
    sock.settimeout(timeout_s)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    headers = {k.lower(): v for k, v in headers.items()}
    length = int(headers.get("content-length", len(body)))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(lines[0].split()[1]), headers.get("content-type", ""), body


def oversize_checks(url: str, limit: int) -> list[dict]:
    """A declared 1000x-the-limit body of which only 64 KiB is sent, and a chunked body that keeps coming and is
    never finished (no last chunk): each must be answered 413 with a JSON detail, so the server did not wait for
    the whole body."""
    host, port = url.removeprefix("http://").split(":")
    head = (f"POST /v1/items/batch HTTP/1.1\r\nHost: {host}\r\nX-API-Key: {WRITE_KEY}\r\n"
            "Content-Type: application/json\r\n")
    piece = b" " * 65536
    results = []
    for kind in ("content-length", "chunked"):
        sent = 0
        with socket.create_connection((host, int(port)), timeout=30) as sock:
            start = time.perf_counter()
            if kind == "content-length":
                sock.sendall((head + f"Content-Length: {limit * 1000}\r\n\r\n").encode() + b'{"items": [' + piece)
                sent = 11 + len(piece)
            else:
                sock.sendall((head + "Transfer-Encoding: chunked\r\n\r\n").encode())
                sock.setblocking(False)
                while sent < limit * 4:  # stop sending once the server has answered (or at 4x the limit)
                    try:
                        sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                        sent += len(piece)
                    except (BlockingIOError, BrokenPipeError, ConnectionResetError):
                        break
                    time.sleep(0.005)  # paced, so the answer is seen about when it comes
                    try:
                        if sock.recv(1, socket.MSG_PEEK):
                            break
                    except BlockingIOError:
                        pass
                sock.setblocking(True)
            try:
                status, content_type, body = read_response(sock, 30)
                detail = json.loads(body).get("detail") if content_type.startswith("application/json") else None
            except (OSError, ValueError) as exc:
                status, content_type, detail = 0, "", f"{type(exc).__name__}: {exc}"
            ms = (time.perf_counter() - start) * 1000
        ok = status == 413 and content_type.startswith("application/json") and isinstance(detail, str)
        results.append({"transfer": kind, "status": status, "content_type": content_type, "detail": detail,
                        "client_sent_bytes": sent, "ms": round(ms, 1), "ok": ok})
        print(f"  oversize {kind:14}: {status} {content_type} {detail!r}, answered after the client sent "
              f"{sent:,} bytes of an unfinished body (limit {limit:,}) in {ms:.0f} ms", flush=True)
    return results


def fuzz_store(store: str, args: argparse.Namespace) -> dict:
    data_dir = Path(tempfile.mkdtemp(prefix=f"semrec-fuzz-{store}-"))
    with fresh_store(store, data_dir, args.pg_admin_url) as database_url:
        synthetic_store(Settings(data_dir=data_dir, database_url=database_url, _env_file=None),
                        n_items=1000, n_users=200, events_per_user=5, k=16)
        service = Service(database_url, data_dir, embedded_worker=False,
                          env={"SEMREC_MAX_BODY_BYTES": str(args.max_body_bytes)})
        service.start()
        try:
            schema = schemathesis.openapi.from_url(f"{service.url}/openapi.json")
            operations = [result.ok() for result in schema.get_all_operations()]
            operations.sort(key=lambda op: op.method.upper() == "DELETE")  # deletes last: the known ids live on
            print(f"{store}: {len(operations)} operations at {service.url}, {args.max_examples} examples per "
                  f"operation and mode", flush=True)
            tally = Tally()
            t0 = time.perf_counter()
            with requests.Session() as session:
                job = session.post(f"{service.url}/v1/embeddings/jobs", json={}, headers={"X-API-Key": WRITE_KEY})
                known_ids = {**KNOWN, "job_id": job.json()["job_id"]}
                for operation in operations:
                    fuzz_operation(operation, service.url, session, tally, args.max_examples, args.seed, known_ids)
            seconds = time.perf_counter() - t0
            oversize = oversize_checks(service.url, args.max_body_bytes)
            alive = requests.get(f"{service.url}/healthz", timeout=10).status_code == 200
        finally:
            service.stop()
        log_errors = service.log_errors()
    if not tally.failures:
        shutil.rmtree(data_dir, ignore_errors=True)  # kept, with api.log, when something failed
    return {"store": store, "data_dir": str(data_dir), "operations": len(operations), "requests": tally.total,
            "seconds": round(seconds),
            "by_class": {k: tally.count(k) for k in ("2xx", "3xx", "4xx", "5xx", "transport error")},
            "by_status": dict(sorted(tally.by_status.items())),
            "by_operation": {label: dict(c) for label, c in sorted(tally.by_operation.items())},
            "failures": tally.failures, "skipped": tally.skipped, "oversize": oversize, "alive_after": alive,
            "log_errors": log_errors[:50]}


def print_store(r: dict) -> None:
    print(f"\n{r['store']}: {r['requests']} requests over {r['operations']} operations in {r['seconds']} s")
    print(f"  {'operation':52} {'2xx':>5} {'4xx':>5} {'5xx':>5} {'error':>5}")
    for label, c in r["by_operation"].items():
        print(f"  {label:52} {c.get('2xx', 0):5} {c.get('4xx', 0):5} {c.get('5xx', 0):5} "
              f"{c.get('transport error', 0):5}")
    print("  by class: " + ", ".join(f"{k} {v}" for k, v in r["by_class"].items()))
    print("  by status: " + ", ".join(f"{k}: {v}" for k, v in r["by_status"].items()))
    for failure in r["failures"][:50]:
        print("  FAILED " + failure)
    for line in r["log_errors"][:20]:
        print("  log: " + line)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--store", choices=["sqlite", "postgresql"], action="append",
                   help="repeatable; default both")
    p.add_argument("--max-examples", type=int, default=50, help="per operation and generation mode")
    p.add_argument("--min-requests", type=int, default=2000, help="per store; fewer is a failure")
    p.add_argument("--max-body-bytes", type=int, default=1024 * 1024, help="SEMREC_MAX_BODY_BYTES of the server")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--pg-admin-url", default=PG_ADMIN_URL)
    p.add_argument("--json", type=Path)
    args = p.parse_args()

    results = [fuzz_store(store, args) for store in args.store or ["sqlite", "postgresql"]]
    problems = []
    for r in results:
        print_store(r)
        bad = r["by_class"]["5xx"] + r["by_class"]["transport error"]
        if bad:
            problems.append(f"{r['store']}: {bad} 5xx or transport errors")
        if r["requests"] < args.min_requests:
            problems.append(f"{r['store']}: only {r['requests']} requests (< {args.min_requests})")
        if not all(o["ok"] for o in r["oversize"]):
            problems.append(f"{r['store']}: an oversize body was not refused with a JSON 413")
        if not r["alive_after"]:
            problems.append(f"{r['store']}: /healthz failed after the run")
    report = {"command": " ".join(["python -m scripts.fuzz", *sys.argv[1:]]), "stores": results,
              "ok": not problems, "problems": problems}
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    total = sum(r["requests"] for r in results)
    print(f"\n{'OK' if not problems else 'FAILED'}: {total} requests, "
          f"{sum(r['by_class']['5xx'] for r in results)} 5xx; " + ("; ".join(problems) or "no 5xx on any store"))
    sys.exit(0 if not problems else 1)


if __name__ == "__main__":
    main()
