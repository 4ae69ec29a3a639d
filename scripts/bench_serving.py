"""Serving throughput and latency over HTTP, ANN recall, index build time and memory.

    python -m scripts.bench_serving                          # 100k items / 20k users synthetic, then ML-100K
    python -m scripts.bench_serving --workers 2 --duration 30 --ann-sizes 100000,1000000

A synthetic catalog (items in 20 categories, users with 20 events each, structured random factors) is written
to a fresh store with a model version built the way the training job builds one (artifact + FAISS indexes),
then `python -m app` serves it and wrk (from the distribution's packages: apt-get install wrk) loads it from a
separate process: throughput at 32 connections, latency at 4 (by Little's law, latency at 32 connections is
at least 32 / throughput). /healthz in the same run is the framework's floor.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from app.core.config import Settings
from app.index.faiss_index import ItemIndex
from scripts.lib.load import pooled_percentile, wrk
from scripts.lib.service import WRITE_KEY, memory_mb, rss_mb, server_pids, start_server
from scripts.lib.side_by_side import impressions_cost
from scripts.lib.stores import ml100k_store, synthetic_store

ROOT = Path(__file__).resolve().parents[1]

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


def put_rule(url: str, rule_id: str, rule: dict) -> None:
    r = httpx.put(f"{url}/v1/rules/{rule_id}", json=rule, headers={"X-API-Key": WRITE_KEY}, timeout=30)
    r.raise_for_status()


def bench_http(url: str, ids: dict, seconds: int, label: str, proc,
               kinds: tuple[str, ...] = ("healthz", "recommend", "rank", "similar", "bought_together", "trending"),
               visitors: dict | None = None, rounds: int = 3) -> list[dict]:
    """Each kind of request in ``rounds`` slices of ``seconds / rounds`` at 32 connections, then as long at 4,
    the kinds taking turns within a round and their order turning each round. This host's speed drifts over
    minutes by more than the differences between routes; slices seconds apart see the same host, so a ratio
    between two rows of one call compares like with like. req/s: the median of a kind's slices; p99: of all its
    slices' requests pooled (wrk's histograms). ``visitors`` (ids of the 3-event visitors) adds their list and
    ``rank``. ids: n_users, n_items, user_prefix, item_prefix, base (ids are prefix + base..base+n-1)."""
    loads = [(kind, kind, ids) for kind in kinds]
    if visitors:
        loads += [(f"visitors' {kind}", kind, visitors) for kind in ("recommend", "rank")]
    for _, kind, who in loads:
        wrk(url, kind, who, 8, 3)  # warm up (fold-in caches, page cache)
    part = max(2, round(seconds / rounds))
    slices: dict[str, list[tuple[dict, dict]]] = {name: [] for name, _, _ in loads}
    for r in range(rounds):
        turn = r % len(loads)
        for name, kind, who in loads[turn:] + loads[:turn]:
            slices[name].append((wrk(url, kind, who, 32, part), wrk(url, kind, who, 4, part)))
    rows = []
    for name, _, _ in loads:
        thr, lat = zip(*slices[name], strict=True)
        row = {"catalog": label, "route": name, "rps@32": round(float(np.median([t["rps"] for t in thr]))),
               "p50_ms@32": round(float(np.median([t["p50_ms"] for t in thr])), 2),
               "p99_ms@32": round(pooled_percentile([t["histogram"] for t in thr], 99), 2),
               "rps@4": round(float(np.median([t["rps"] for t in lat]))),
               "p50_ms@4": round(float(np.median([t["p50_ms"] for t in lat])), 2),
               "p99_ms@4": round(pooled_percentile([t["histogram"] for t in lat], 99), 2),
               "errors": sum(t["errors"] + t["non2xx"] for t in thr + lat), "rss_mb": round(rss_mb(proc))}
        print("  " + "  ".join(f"{k}={v}" for k, v in row.items()), flush=True)
        rows.append(row)
    return rows


def computed_lists(env: dict, ids: dict, seconds: int, workers: int, light_users: int) -> list[dict]:
    """The same lists with no answer kept (SEMREC_ANSWER_CACHE=0), so every request is computed: what a list
    costs right after the shopper's newest event, and what steering adds to that. With kept answers the plain
    list of the first block is mostly a lookup (the 20,000 users come back within the run) while a steered
    list with a random category of ten rarely repeats, so a ratio between them says more about the cache than
    about the filters and rules. The plain list is loaded first with no rule, then with the rule in force
    alongside the steered list, the session list and the visitors' lists."""
    proc, url = start_server({**env, "SEMREC_ANSWER_CACHE": "0"}, workers)
    label = "no answers kept"
    light = {**ids, "n_users": light_users, "user_prefix": "l"} if light_users else None
    try:
        httpx.delete(f"{url}/v1/rules/bench-boost", headers={"X-API-Key": WRITE_KEY}, timeout=30)
        rows = bench_http(url, ids, seconds, f"{label}, no rule", proc, ("recommend",))
        put_rule(url, "bench-boost", {"action": "boost", "items": {"category": "c3"}, "factor": 2.0})
        rows += bench_http(url, ids, seconds, f"{label}, one rule in force", proc,
                           ("recommend", "steered", "session", "rank"), visitors=light)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
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
    p.add_argument("--impression-rounds", type=int, default=20,
                   help="slices of load on the servers with and without impressions kept, side by side (0: skip)")
    p.add_argument("--impression-slice", type=int, default=3, help="seconds of each slice, per connection count")
    p.add_argument("--impression-aa", action="store_true",
                   help="both servers keep no impressions: the protocol's own spread (an A/A run)")
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")

    report = {"command": " ".join(["python -m scripts.bench_serving", *sys.argv[1:]]), "http": [], "ann": [],
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
        # The same lists steered: two filters (a category, a price bound) with one rule in force (a boost of a
        # category), against the plain list again in the same run.
        put_rule(url, "bench-boost", {"action": "boost", "items": {"category": "c3"}, "factor": 2.0})
        light = {**ids, "n_users": args.light_users, "user_prefix": "l"} if args.light_users else None
        report["http"] += bench_http(url, ids, args.duration, f"synthetic {args.items}, one rule in force", proc,
                                     ("recommend", "steered", "session", "rank"), visitors=light)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    report["http"] += computed_lists(env, ids, args.duration, args.workers, args.light_users)
    if args.impression_rounds:
        report["impressions"] = impressions_cost(env, ids, args.impression_rounds, args.impression_slice,
                                                 args.workers, args.impression_aa)
    if args.ml100k and (args.ml100k / "u.data").exists():
        print("ML-100K: ingest, embed and train with the service's own job, then serve", flush=True)
        ml_dir = Path(tempfile.mkdtemp(prefix="semrec-bench-ml100k-"))
        ml_settings = Settings(data_dir=ml_dir, database_url="", _env_file=None)
        ml100k_store(ml_settings, args.ml100k, visitors=500 if args.light_users else 0)
        proc, url = start_server({"SEMREC_DATA_DIR": str(ml_dir), "SEMREC_DATABASE_URL": ml_settings.sqlalchemy_url},
                                 args.workers)
        try:
            ids = {"n_users": 943, "n_items": 1682, "user_prefix": "", "item_prefix": "", "base": 1}
            light = {**ids, "n_users": 500, "user_prefix": "l"} if args.light_users else None
            report["http"] += bench_http(url, ids, args.duration, "ML-100K", proc, visitors=light)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    print("ANN recall and memory", flush=True)
    report["ann"] = ann_figures([int(n) for n in args.ann_sizes.split(",") if n])
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
