"""Soak: minutes of mixed load against a real server, to catch what short tests miss: a 5xx under concurrency,
memory that keeps growing, a job that never finishes.

    python -m scripts.soak                                     # 10 minutes: PostgreSQL, API + worker, ML-100K
    python -m scripts.soak --store sqlite --minutes 3 --data synthetic --json soak.json

A fresh store (a PostgreSQL database made for the run and dropped after, or a SQLite file) gets a trained model
first (ML-100K ingested and trained with the service's own training job, or a synthetic catalog and model). Then
`python -m app` serves it (on PostgreSQL with a separate `python -m app.worker`, on SQLite with the embedded
worker) and, all at once:
  - recommendation clients (`--concurrency` threads, back to back): GET /v1/users/{id}/recommendations;
  - one client for similar items, rank and text-query recommendations;
  - ingestion: interaction batches (new users and items among them, some resent event ids) and item upserts
    (new items among them), and user profile upserts;
  - every `--cycle-minutes`: an embedding job, then a training job (which activates its version), then a
    rollback (activate the previous version) and a roll-forward (activate the newest); each new active version
    is followed until recommendations come from it (served_s, rollback_s, roll_forward_s).
After a warm-up (not counted) the server's RSS is the baseline; the report has every request by route and
status, recommendation p50/p99 per minute, RSS at start and end, and every job. Exit status 1 on any 5xx,
transport error, failed job, or job still queued or running at the end.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path

import httpx
import numpy as np
from sqlalchemy import select

from app.core.config import Settings
from app.store.db import make_engine, make_sessionmaker
from app.store.models import Item, User
from scripts.lib.service import PG_ADMIN_URL, READ_KEY, WRITE_KEY, Service, fresh_store
from scripts.lib.stores import ml100k_store, synthetic_store

ROOT = Path(__file__).resolve().parents[1]

RECOMMEND = "GET /v1/users/{user_id}/recommendations"
QUERIES = ["a funny film for the weekend", "space adventure with robots", "romantic drama", "scary horror night",
           "documentary about music", "animated film for children", "crime thriller in the city"]


# ---- the service under test: a fresh store, the API and its worker as subprocesses ----

def train_first(data: str, database_url: str, data_dir: Path) -> str:
    """A trained, active model before the load starts; returns what it was trained on."""
    settings = Settings(data_dir=data_dir, database_url=database_url, _env_file=None)
    folder = Path(data)
    if data != "synthetic" and (folder / "u.data").exists():
        ml100k_store(settings, folder)  # the service's own ingest and training job, run here once
        return f"ML-100K ({folder})"
    if data != "synthetic":
        print(f"  no ML-100K at {folder}: a synthetic catalog instead", flush=True)
    synthetic_store(settings, n_items=5000, n_users=2000, events_per_user=20, k=32)
    return "synthetic (5,000 items, 2,000 users x 20 events)"


def known_ids(database_url: str, data_dir: Path) -> tuple[list[str], list[str], list[str]]:
    engine = make_engine(Settings(data_dir=data_dir, database_url=database_url, _env_file=None))
    with make_sessionmaker(engine)() as s:
        users = list(s.scalars(select(User.user_id)))
        items = list(s.scalars(select(Item.item_id)))
        categories = sorted({c for c in s.scalars(select(Item.category)) if c})
    engine.dispose()
    return users, items, categories


# ---- the load ----

class Recorder:
    """Every request by route template and status (or transport error), and recommendation latency per minute."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: Counter[tuple[str, str]] = Counter()
        self.latency_ms: dict[int, list[float]] = defaultdict(list)
        self.failures: list[str] = []
        self.t0 = time.monotonic()
        self.last_minute = 10**9

    def restart(self, minutes: float) -> None:
        """Forget the warm-up; the last fraction of a minute counts in the minute before it."""
        with self.lock:
            self.counts.clear()
            self.latency_ms.clear()
            self.failures.clear()
            self.t0 = time.monotonic()
            self.last_minute = max(0, int(np.ceil(minutes)) - 1)

    def minute(self) -> int:
        return min(int((time.monotonic() - self.t0) // 60), self.last_minute)

    def call(self, client: httpx.Client, route: str, url: str, timed: bool = False, **kwargs) -> httpx.Response | None:
        method = route.split(" ", 1)[0]
        start = time.perf_counter()
        response, outcome = None, ""
        try:
            response = client.request(method, url, **kwargs)
            outcome = str(response.status_code)
        except httpx.HTTPError as exc:
            outcome = type(exc).__name__
        ms = (time.perf_counter() - start) * 1000
        with self.lock:
            self.counts[(route, outcome)] += 1
            if timed and response is not None and response.status_code == 200:
                self.latency_ms[self.minute()].append(ms)
            if response is None or response.status_code >= 500:
                body = response.text[:300] if response is not None else ""
                self.failures.append(f"{method} {url} -> {outcome} {body}")
        return response


class Load:
    """The concurrent clients; each thread has its own connection pool and stops when `stop` is set."""

    def __init__(self, url: str, recorder: Recorder, users: list[str], items: list[str], categories: list[str],
                 args: argparse.Namespace) -> None:
        self.url = url
        self.rec = recorder
        self.users, self.items, self.categories = users, items, categories
        self.new_users: list[str] = []
        self.new_items: list[str] = []
        self.args = args
        self.stop = threading.Event()
        self.cycles: list[dict] = []
        self.jobs_started: Counter[str] = Counter()
        self.jobs_finished: Counter[tuple[str, str]] = Counter()

    def client(self, key: str = WRITE_KEY) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"X-API-Key": key}, timeout=120)

    def some_user(self, rng: random.Random) -> str:
        draw = rng.random()
        if draw < 0.1:
            return f"visitor-{rng.randrange(10**9)}"  # a new visitor: never a 404
        if draw < 0.2 and self.new_users:
            return rng.choice(self.new_users)
        return rng.choice(self.users)

    def some_item(self, rng: random.Random) -> str:
        return rng.choice(self.new_items) if self.new_items and rng.random() < 0.2 else rng.choice(self.items)

    def recommend_loop(self, seed: int) -> None:
        rng = random.Random(seed)
        with self.client(READ_KEY) as c:
            while not self.stop.is_set():
                params = {"k": rng.choice([5, 10, 10, 20, 50])}
                if rng.random() < 0.2:
                    params["exclude_seen"] = "false"
                if self.categories and rng.random() < 0.2:
                    params["category"] = rng.choice(self.categories)
                self.rec.call(c, RECOMMEND, f"/v1/users/{self.some_user(rng)}/recommendations", timed=True,
                              params=params)

    def similar_rank_loop(self, seed: int) -> None:
        rng = random.Random(seed)
        with self.client(READ_KEY) as c:
            while not self.stop.is_set():
                draw = rng.random()
                if draw < 0.4:
                    self.rec.call(c, "GET /v1/items/{item_id}/similar", f"/v1/items/{self.some_item(rng)}/similar",
                                  params={"k": 10})
                elif draw < 0.8:
                    ids = [self.some_item(rng) for _ in range(50)] + ["no-such-item"]
                    self.rec.call(c, "POST /v1/users/{user_id}/rank", f"/v1/users/{self.some_user(rng)}/rank",
                                  json={"item_ids": ids})
                else:
                    body = {"query": rng.choice(QUERIES), "k": 10}
                    if rng.random() < 0.5:
                        body["user_id"] = self.some_user(rng)
                    self.rec.call(c, "POST /v1/recommendations", "/v1/recommendations", json=body)

    def ingest_loop(self, seed: int) -> None:
        """A steady trickle: an interaction batch every --ingest-interval, item and user upserts in between.
        Events name new users and bare new items too (created on the fly); upserts add titled new items."""
        rng = random.Random(seed)
        sent_events: list[str] = []
        n = 0
        with self.client() as c:
            while not self.stop.wait(self.args.ingest_interval):
                n += 1
                events = []
                for _ in range(self.args.ingest_batch):
                    user = f"soak-u{rng.randrange(1000)}" if rng.random() < 0.2 else rng.choice(self.users)
                    item = f"soak-bare-{rng.randrange(1000)}" if rng.random() < 0.05 else self.some_item(rng)
                    kind = rng.choice(["view", "view", "click", "cart", "purchase", "rating"])
                    event = {"user_id": user, "item_id": item, "type": kind, "event_id": uuid.uuid4().hex}
                    if kind == "rating":
                        event["value"] = rng.randint(1, 5)
                        if rng.random() < 0.3:
                            event["text"] = rng.choice(["loved it", "not for me", "great soundtrack", "too long"])
                    events.append(event)
                events += [{"user_id": self.users[0], "item_id": self.items[0], "type": "view", "event_id": e}
                           for e in rng.sample(sent_events, min(10, len(sent_events)))]  # resends: duplicates
                sent_events += [e["event_id"] for e in events[:20]]
                r = self.rec.call(c, "POST /v1/interactions", "/v1/interactions", json={"interactions": events})
                if r is not None and r.status_code == 200:
                    known = set(self.new_users)
                    fresh = {e["user_id"] for e in events if e["user_id"].startswith("soak-u")} - known
                    self.new_users += sorted(fresh)
                if n % 5 == 0:
                    new = [f"soak-i{seed}-{n}-{j}" for j in range(20)]
                    batch = [{"item_id": i, "title": f"New arrival {i}", "category": rng.choice(self.categories)
                              if self.categories else None, "price": round(rng.uniform(1, 100), 2)} for i in new]
                    batch += [{"item_id": i, "title": f"Restocked {i} ({n})"} for i in rng.sample(self.items, 30)]
                    r = self.rec.call(c, "POST /v1/items/batch", "/v1/items/batch", json={"items": batch})
                    if r is not None and r.status_code == 200:
                        self.new_items += new
                if n % 10 == 0:
                    self.rec.call(c, "PUT /v1/users/{user_id}", f"/v1/users/soak-u{rng.randrange(1000)}",
                                  json={"profile_text": rng.choice(QUERIES)})

    def wait_job(self, c: httpx.Client, job_id: str, kind: str) -> tuple[str, float]:
        start = time.monotonic()
        status = "unknown"
        while time.monotonic() - start < self.args.job_timeout_minutes * 60:
            r = self.rec.call(c, "GET /v1/jobs/{job_id}", f"/v1/jobs/{job_id}")
            if r is not None and r.status_code == 200:
                status = r.json()["status"]
                if status in ("succeeded", "failed", "cancelled"):
                    break
            time.sleep(2)
        self.jobs_finished[(kind, status)] += 1
        return status, time.monotonic() - start

    def follow_activation(self, c: httpx.Client, version: str, activate: bool = True) -> float | None:
        """Activate a version (or not: the training job already did) and wait until recommendations come from
        it; seconds, or None if they never did within 2 minutes."""
        start = time.monotonic()
        if activate:
            r = self.rec.call(c, "POST /v1/models/{version}/activate", f"/v1/models/{version}/activate")
            if r is None or r.status_code != 200:
                return None
        while time.monotonic() - start < 120:
            r = self.rec.call(c, RECOMMEND, f"/v1/users/{self.users[0]}/recommendations")
            if r is not None and r.status_code == 200 and r.json()["model_version"] == version:
                return round(time.monotonic() - start, 1)
            time.sleep(0.5)
        return None

    def cycle_loop(self) -> None:
        """Embedding job, training job, rollback and roll-forward, every --cycle-minutes (first at half a cycle).
        A cycle in progress is finished even after `stop`, so no job is abandoned by the load itself."""
        period = self.args.cycle_minutes * 60
        next_at = time.monotonic() + period / 2
        with self.client() as c:
            while not self.stop.wait(max(0.0, next_at - time.monotonic())):
                next_at += period
                cycle: dict = {"minute": self.rec.minute()}
                for kind, path, body in (("embedding", "/v1/embeddings/jobs", {"target": "all"}),
                                         ("training", "/v1/training/jobs", {})):
                    r = self.rec.call(c, f"POST {path}", path, json=body)
                    if r is None or r.status_code != 202:
                        cycle[kind] = "not accepted"
                        break
                    self.jobs_started[kind] += 1
                    status, seconds = self.wait_job(c, r.json()["job_id"], kind)
                    cycle[kind] = f"{status} in {seconds:.0f} s"
                    if status != "succeeded":
                        break
                else:
                    r = self.rec.call(c, "GET /v1/models", "/v1/models")
                    models = r.json()["models"] if r is not None and r.status_code == 200 else []
                    if len(models) >= 2:
                        cycle["new_version"] = models[0]["version"]
                        cycle["served_s"] = self.follow_activation(c, models[0]["version"], activate=False)
                        cycle["rollback_s"] = self.follow_activation(c, models[1]["version"])
                        cycle["roll_forward_s"] = self.follow_activation(c, models[0]["version"])
                self.cycles.append(cycle)
                print(f"  cycle at minute {cycle['minute']}: {cycle}", flush=True)
                next_at = max(next_at, time.monotonic())

    def run(self, seconds: float, cycles: bool) -> None:
        self.stop.clear()
        threads = [threading.Thread(target=self.recommend_loop, args=(n,)) for n in range(self.args.concurrency)]
        threads += [threading.Thread(target=self.similar_rank_loop, args=(100,)),
                    threading.Thread(target=self.ingest_loop, args=(200 + int(cycles),))]
        if cycles:
            threads.append(threading.Thread(target=self.cycle_loop))
        for t in threads:
            t.start()
        self.stop.wait(seconds)
        self.stop.set()
        for t in threads:
            t.join()


# ---- the report ----

def percentiles_per_minute(latency_ms: dict[int, list[float]]) -> list[dict]:
    return [{"minute": m, "requests": len(v), "p50_ms": round(float(np.percentile(v, 50)), 1),
             "p99_ms": round(float(np.percentile(v, 99)), 1)} for m, v in sorted(latency_ms.items()) if v]


def stuck_jobs(url: str) -> tuple[list[dict], Counter]:
    """Jobs still queued or running, and every job in the store by kind and status."""
    with httpx.Client(base_url=url, headers={"X-API-Key": WRITE_KEY}, timeout=60) as c:
        jobs = c.get("/v1/jobs", params={"limit": 1000}).json()["jobs"]
    every = Counter(f"{j['kind']} {j['status']}" for j in jobs)
    return [j for j in jobs if j["status"] in ("queued", "running")], every


def growth(start: float, end: float) -> float:
    return round((end - start) / start * 100, 1) if start else 0.0


def print_report(report: dict) -> None:
    print("\nrequests by route and status")
    for route, by_status in sorted(report["requests"].items()):
        print(f"  {route:48} " + "  ".join(f"{s}: {n}" for s, n in sorted(by_status.items())))
    print(f"  total {report['total_requests']}, 5xx {report['server_errors']}, "
          f"transport errors {report['transport_errors']}")
    print("\nrecommendations per minute\n  minute  requests   p50_ms   p99_ms")
    for row in report["recommendations_per_minute"]:
        print(f"  {row['minute']:6}  {row['requests']:8}  {row['p50_ms']:7}  {row['p99_ms']:7}")
    print("\nRSS (MiB)")
    for proc, r in report["rss_mb"].items():
        print(f"  {proc:6}  ready {r['ready']:7.0f}  start {r['start']:7.0f}  end {r['end']:7.0f}  "
              f"growth {r['growth_pct']:+.1f}%")
    for s in report["rss_per_minute"]:
        print(f"  minute {s['minute']}: " + "  ".join(f"{k} {v}" for k, v in s.items() if k != "minute"))
    jobs = report["jobs"]
    print(f"\njobs started by the soak {jobs['started']}, finished {jobs['finished']}")
    print(f"  every job in the store: {jobs['in_store']}; still queued or running: {len(jobs['stuck'])}")
    for cycle in report["cycles"]:
        print(f"  cycle at minute {cycle.pop('minute')}: {cycle}")
    if report["log_errors"]:
        print(f"\nerror lines in the logs ({len(report['log_errors'])}):")
        for line in report["log_errors"][:20]:
            print("  " + line)
    for failure in report["failures"][:20]:
        print("  failed: " + failure)
    print(f"\n{'OK' if report['ok'] else 'FAILED'}: {report['verdict']}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=10)
    p.add_argument("--store", choices=["postgresql", "sqlite"], default="postgresql")
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "ml-100k"),
                   help="an ML-100K folder, or 'synthetic'")
    p.add_argument("--cycle-minutes", type=float, default=3)
    p.add_argument("--concurrency", type=int, default=6, help="recommendation client threads")
    p.add_argument("--ingest-batch", type=int, default=200, help="interactions per batch")
    p.add_argument("--ingest-interval", type=float, default=1.0, help="seconds between batches")
    p.add_argument("--warmup-seconds", type=float, default=30)
    p.add_argument("--job-timeout-minutes", type=float, default=15)
    p.add_argument("--pg-admin-url", default=PG_ADMIN_URL, help="a database to connect to while creating ours")
    p.add_argument("--json", type=Path)
    p.add_argument("--keep", action="store_true", help="keep the data dir (logs, model versions) even when OK")
    args = p.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="semrec-soak-"))
    report: dict = {"command": " ".join(["python -m scripts.soak", *sys.argv[1:]]), "store": args.store,
                    "minutes": args.minutes, "concurrency": args.concurrency, "data_dir": str(data_dir)}
    with fresh_store(args.store, data_dir, args.pg_admin_url) as database_url:
        print(f"store: {args.store}; data dir {data_dir}", flush=True)
        t0 = time.perf_counter()
        report["trained_on"] = train_first(args.data, database_url, data_dir)
        print(f"  trained model on {report['trained_on']} in {time.perf_counter() - t0:.0f} s", flush=True)
        users, items, categories = known_ids(database_url, data_dir)
        service = Service(database_url, data_dir, embedded_worker=args.store == "sqlite")
        service.start()
        try:
            rss_ready = service.rss_mb()
            recorder = Recorder()
            load = Load(service.url, recorder, users, items, categories, args)
            print(f"serving at {service.url}; warm-up {args.warmup_seconds:.0f} s (not counted)", flush=True)
            load.run(args.warmup_seconds, cycles=False)
            recorder.restart(args.minutes)
            rss_start = service.rss_mb()
            samples = []

            def sample_rss() -> None:
                while not load.stop.wait(60):
                    samples.append({"minute": len(samples) + 1, **service.rss_mb()})
                    print(f"  minute {samples[-1]['minute']}: RSS {samples[-1]}, "
                          f"{sum(recorder.counts.values())} requests so far", flush=True)

            print(f"soak: {args.minutes:g} min, {args.concurrency} recommendation clients, "
                  f"cycle every {args.cycle_minutes:g} min", flush=True)
            sampler = threading.Thread(target=sample_rss, daemon=True)
            load.stop.clear()
            sampler.start()
            load.run(args.minutes * 60, cycles=True)
            rss_end = service.rss_mb()
            stuck, in_store = stuck_jobs(service.url)
        finally:
            service.stop()
        log_errors = service.log_errors()

    requests: dict[str, dict[str, int]] = defaultdict(dict)
    for (route, outcome), n in recorder.counts.items():
        requests[route][outcome] = n
    server_errors = sum(n for (_, o), n in recorder.counts.items() if o.isdigit() and int(o) >= 500)
    transport_errors = sum(n for (_, o), n in recorder.counts.items() if not o.isdigit())
    failed_jobs = sum(n for (_, status), n in load.jobs_finished.items() if status != "succeeded")
    report |= {
        "requests": requests, "total_requests": sum(recorder.counts.values()), "server_errors": server_errors,
        "transport_errors": transport_errors, "failures": recorder.failures[:100],
        "recommendations_per_minute": percentiles_per_minute(recorder.latency_ms),
        "rss_mb": {proc: {"ready": round(rss_ready[proc]), "start": round(rss_start[proc]),
                          "end": round(rss_end[proc]), "growth_pct": growth(rss_start[proc], rss_end[proc])}
                   for proc in rss_start},
        "rss_per_minute": [{k: round(v) if k != "minute" else v for k, v in s.items()} for s in samples],
        "jobs": {"started": dict(load.jobs_started), "finished": {f"{k} {s}": n for (k, s), n in
                                                                  load.jobs_finished.items()},
                 "in_store": dict(in_store), "stuck": stuck},
        "cycles": load.cycles, "log_errors": log_errors,
    }
    problems = [f"{server_errors} 5xx"] * bool(server_errors) + [f"{transport_errors} transport errors"] * bool(
        transport_errors) + [f"{failed_jobs} failed jobs"] * bool(failed_jobs) + [f"{len(stuck)} stuck jobs"] * bool(
        stuck)
    report["ok"] = not problems
    report["verdict"] = "; ".join(problems) or (
        f"no 5xx, no transport error, every job finished; server RSS {report['rss_mb']['server']['growth_pct']:+.1f}%"
        " after warm-up")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))
    print_report(json.loads(json.dumps(report, default=str)))
    if report["ok"] and not args.keep:
        import shutil

        shutil.rmtree(data_dir, ignore_errors=True)
    sys.exit(0 if report["ok"] else 1)


if __name__ == "__main__":
    main()
