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
               kinds: tuple[str, ...] = ("healthz", "recommend", "rank", "similar", "bought_together", "trending")
               ) -> list[dict]:
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


def computed_lists(env: dict, ids: dict, seconds: int, workers: int, light_users: int) -> list[dict]:
    """The same lists with no answer kept (SEMREC_ANSWER_CACHE=0), so every request is computed: what a list
    costs right after the shopper's newest event, and what steering adds to that. With kept answers the plain
    list of the first block is mostly a lookup (the 20,000 users come back within the run) while a steered
    list with a random category of ten rarely repeats, so a ratio between them says more about the cache than
    about the filters and rules. The rule is lifted for the plain list and put back for the rest."""
    proc, url = start_server({**env, "SEMREC_ANSWER_CACHE": "0"}, workers)
    label = "no answers kept"
    try:
        httpx.delete(f"{url}/v1/rules/bench-boost", headers={"X-API-Key": WRITE_KEY}, timeout=30)
        rows = bench_http(url, ids, seconds, f"{label}, no rule", proc, ("recommend", "rank"))
        put_rule(url, "bench-boost", {"action": "boost", "items": {"category": "c3"}, "factor": 2.0})
        rows += bench_http(url, ids, seconds, f"{label}, one rule in force", proc, ("recommend", "steered", "session"))
        if light_users:
            light = {**ids, "n_users": light_users, "user_prefix": "l"}
            rows += bench_http(url, light, seconds, f"{label}, 3-event visitors", proc, ("recommend", "rank"))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return rows


def impressions_cost(env: dict, ids: dict, rounds: int, seconds: int, workers: int) -> dict:
    """What keeping impressions costs the plain list: a server that keeps them (the default) and one that keeps
    none (SEMREC_IMPRESSIONS=false), started side by side, each on its own copy of the store where it is SQLite,
    loaded in turn in short slices (``seconds`` at 32 connections, then ``seconds`` at 4), ``rounds`` slices
    each, the first server of each round alternating. This host's speed drifts by more than the effect over
    minutes; slices a few seconds apart see the same host. Reported: the median req/s of the slices, and the p99
    at 4 connections of all of a server's slices' requests pooled (their wrk histograms)."""
    servers, copies = {}, []
    try:
        for label, extra in (("kept", {}), ("none", {"SEMREC_IMPRESSIONS": "false"})):
            own = dict(env)
            if not env.get("SEMREC_DATABASE_URL", "").startswith("postgresql"):
                copy = Path(tempfile.mkdtemp(prefix=f"semrec-bench-{label}-"))
                shutil.copytree(env["SEMREC_DATA_DIR"], copy, dirs_exist_ok=True)
                copies.append(copy)
                own |= {"SEMREC_DATA_DIR": str(copy), "SEMREC_DATABASE_URL": ""}  # the copy's own SQLite file
            servers[label] = start_server({**own, **extra}, workers)
        for _, url in servers.values():
            wrk(url, "recommend", ids, 8, 3)
        runs: dict[str, list[dict]] = {"kept": [], "none": []}
        for r in range(rounds):
            for label in (("kept", "none") if r % 2 == 0 else ("none", "kept")):
                url = servers[label][1]
                thr, lat = wrk(url, "recommend", ids, 32, seconds), wrk(url, "recommend", ids, 4, seconds)
                runs[label].append({"rps@32": thr["rps"], "p99_ms@4": lat["p99_ms"], "histogram": lat["histogram"]})
                print(f"  impressions {label}: {thr['rps']:.0f} req/s @32, p99 {lat['p99_ms']:.1f} ms @4", flush=True)
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(timeout=300)
        for copy in copies:
            shutil.rmtree(copy, ignore_errors=True)
    median = {label: {key: float(np.median([r[key] for r in rows])) for key in ("rps@32", "p99_ms@4")}
              for label, rows in runs.items()}
    pooled = {label: pooled_percentile([r.pop("histogram") for r in rows], 99) for label, rows in runs.items()}
    out = {"rounds": rounds, "slice_seconds": seconds, "runs": runs, "median": median, "pooled_p99_ms@4": pooled,
           "rps_ratio": round(median["kept"]["rps@32"] / median["none"]["rps@32"], 3),
           "p99_ratio": round(median["kept"]["p99_ms@4"] / median["none"]["p99_ms@4"], 3),
           "pooled_p99_ratio": round(pooled["kept"] / pooled["none"], 3)}
    print(f"  impressions kept / none, {rounds} slices each: req/s {out['rps_ratio']}x (medians); p99 of every "
          f"request of the slices pooled: {pooled['kept']:.1f} against {pooled['none']:.1f} ms, "
          f"{out['pooled_p99_ratio']}x (median of the slices' p99: {out['p99_ratio']}x)", flush=True)
    return out


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
    p.add_argument("--impression-rounds", type=int, default=12,
                   help="slices of load on the servers with and without impressions kept, side by side (0: skip)")
    p.add_argument("--impression-slice", type=int, default=5, help="seconds of each slice, per connection count")
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
        report["http"] += bench_http(url, ids, args.duration, f"synthetic {args.items}, one rule in force", proc,
                                     ("recommend", "steered", "session"))
        if args.light_users:  # the few-event path: the neighbours over the reference users
            light = {**ids, "n_users": args.light_users, "user_prefix": "l"}
            report["http"] += bench_http(url, light, args.duration, f"synthetic {args.items}, 3-event visitors",
                                         proc, ("recommend", "rank"))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    report["http"] += computed_lists(env, ids, args.duration, args.workers, args.light_users)
    if args.impression_rounds:
        report["impressions"] = impressions_cost(env, ids, args.impression_rounds, args.impression_slice,
                                                 args.workers)
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
