"""The framework's floor against the work: each way of serving the same store measured against `/healthz` in
the same run, to see what per-request overhead a change removes.

    python -m scripts.bench_floor                       # 100k-item synthetic store, 2 workers, 10 s per figure

Variants: the default server (`python -m app`: uvicorn, our access log, the answer cache), the answer cache
off, the access log off, and granian in place of uvicorn (same app, same log configuration; `pip install
granian`). Routes: `/healthz`, an established user's recommendations, a 3-click visitor's. Throughput at 32
connections, latency at 4, with wrk as in scripts/bench_serving.py (whose synthetic store this reuses).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from app.core.config import Settings
from app.core.logs import log_config
from scripts.lib.load import wrk
from scripts.lib.service import start_server
from scripts.lib.stores import synthetic_store

ROOT = Path(__file__).resolve().parents[1]


def start(kind: str, env: dict, workers: int, log_file: Path) -> tuple[subprocess.Popen, str]:
    if kind != "granian":
        return start_server(env, workers)
    # granian applies no logging configuration of ours: give it the one python -m app uses
    log_file.write_text(json.dumps(log_config("json", env.get("SEMREC_ACCESS_LOG", "true") == "true")))
    return start_server(env, workers, lambda port, n: [
        str(Path(sys.executable).parent / "granian"), "--interface", "asgi", "--host", "127.0.0.1", "--port",
        str(port), "--workers", str(n), "--log-config", str(log_file), "--no-access-log", "app.main:app"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--items", type=int, default=100_000)
    p.add_argument("--users", type=int, default=20_000)
    p.add_argument("--light-users", type=int, default=2000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--duration", type=int, default=10)
    p.add_argument("--variants", default="default,no answer cache,no access log,granian")
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    variants = {"default": ("uvicorn", {}), "no answer cache": ("uvicorn", {"SEMREC_ANSWER_CACHE": "0"}),
                "no access log": ("uvicorn", {"SEMREC_ACCESS_LOG": "false"}), "granian": ("granian", {})}
    chosen = [v.strip() for v in args.variants.split(",")]

    data_dir = Path(tempfile.mkdtemp(prefix="semrec-bench-floor-"))
    settings = Settings(data_dir=data_dir, database_url="", _env_file=None)
    synthetic_store(settings, args.items, args.users, 20, 64, args.light_users)
    base_env = {"SEMREC_DATA_DIR": str(data_dir), "SEMREC_DATABASE_URL": settings.sqlalchemy_url}
    regulars = {"n_users": args.users, "n_items": args.items, "user_prefix": "u", "item_prefix": "i", "base": 0}
    visitors = {**regulars, "n_users": args.light_users, "user_prefix": "l"}
    rows = []
    for name in chosen:
        kind, extra = variants[name]
        proc, url = start(kind, {**base_env, **extra}, args.workers, data_dir / "log.json")
        try:
            figures = {}
            for route, kind_, ids in (("healthz", "healthz", regulars), ("regulars", "recommend", regulars),
                                      ("visitors", "recommend", visitors)):
                wrk(url, kind_, ids, 8, 3)  # warm up
                thr = wrk(url, kind_, ids, 32, args.duration)
                lat = wrk(url, kind_, ids, 4, args.duration)
                figures[route] = {"rps@32": round(thr["rps"]), "p99_ms@4": round(lat["p99_ms"], 2),
                                  "errors": thr["errors"] + thr["non2xx"] + lat["errors"] + lat["non2xx"]}
            row = {"variant": name, **{f"{r} {k}": v for r, f in figures.items() for k, v in f.items()},
                   "regulars/healthz": round(figures["regulars"]["rps@32"] / figures["healthz"]["rps@32"], 2),
                   "visitors/regulars": round(figures["visitors"]["rps@32"] / figures["regulars"]["rps@32"], 2)}
            print("  " + "  ".join(f"{k}={v}" for k, v in row.items()), flush=True)
            rows.append(row)
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    if args.json:
        args.json.write_text(json.dumps({"command": " ".join(["python -m scripts.bench_floor", *sys.argv[1:]]),
                                         "rows": rows}, indent=2))
    shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
