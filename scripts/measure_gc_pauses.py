"""The garbage collector's full collections in a serving process under load: how often, how long (no request
is answered while one runs), and how many objects they walk.

    python -m scripts.measure_gc_pauses [--seconds 20] [--impressions false]

The bench's synthetic store (100k items, 20,000 users) served by two workers; the plain list at 4 connections,
then 32, then 4 again (every user's answer kept by then), each worker logging its full collections through a
``gc.callbacks`` hook (``scripts/lib/gc_hook``) on its PYTHONPATH. Prints each worker's collections in the load
and the load's p99 (docs/online.md, "Tenth round").
"""

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from app.core.config import Settings
from scripts.lib.load import wrk
from scripts.lib.service import server_pids, start_server
from scripts.lib.stores import synthetic_store

HOOK = Path(__file__).resolve().parent / "lib" / "gc_hook"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--items", type=int, default=100_000)
    p.add_argument("--users", type=int, default=20_000)
    p.add_argument("--seconds", type=int, default=20, help="of each load phase")
    p.add_argument("--impressions", default="true", help="SEMREC_IMPRESSIONS of the server")
    p.add_argument("--data-dir", type=Path, help="a store built by an earlier run (default: build one)")
    args = p.parse_args()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="semrec-gc-"))
    settings = Settings(data_dir=data_dir, database_url="", _env_file=None)
    if args.data_dir is None:
        synthetic_store(settings, args.items, args.users, 20, 64, 0, ef_construction=200)
    logs = Path(tempfile.mkdtemp(prefix="semrec-gc-log-"))
    env = {"SEMREC_DATA_DIR": str(data_dir), "SEMREC_DATABASE_URL": settings.sqlalchemy_url,
           "SEMREC_IMPRESSIONS": args.impressions, "SEMREC_GC_LOG_DIR": str(logs),
           "PYTHONPATH": os.pathsep.join([str(HOOK), os.environ.get("PYTHONPATH", "")])}
    ids = {"n_users": args.users, "n_items": args.items, "user_prefix": "u", "item_prefix": "i", "base": 0}
    proc, url = start_server(env, 2)
    try:
        wrk(url, "recommend", ids, 8, 3)
        began = time.time()
        for connections in (4, 32, 4):
            r = wrk(url, "recommend", ids, connections, args.seconds)
            print(f"  {connections} connections: {r['rps']:.0f} req/s, p99 {r['p99_ms']:.1f} ms", flush=True)
        time.sleep(1.5)  # a last write of the workers' logs
        workers = server_pids(proc)[1:]
        for pid in workers:
            log = json.loads((logs / f"{pid}.json").read_text())
            full = [c for c in log["full"] if c[0] >= began]
            ms = [c[1] for c in full]
            print(f"  worker {pid}: {len(full)} full collections in {3 * args.seconds} s, "
                  f"{np.median(ms) if ms else 0:.1f} ms median, {max(ms, default=0):.1f} ms longest; "
                  f"{int(np.median([c[3] for c in full])) if full else 0} objects walked (median), "
                  f"{sum(c[2] for c in full)} freed; {log['frozen']} frozen", flush=True)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        shutil.rmtree(logs, ignore_errors=True)
        if args.data_dir is None:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
