"""Training time on a whole data set (default: ML-100K): the default job's fits (``auto``: the ranking factors on
every rating, weighted by value, then the Gibbs rater), and each objective and solver alone: ``fit`` only, the
text vectors computed first (the service's job has them in the store already).

    python -m scripts.bench_training                      # ../shared/data/ml-100k, every objective and solver
    python -m scripts.bench_training --repeat 3 --threads 2
    python -m scripts.bench_training --events 1e5,1e6,1e7 --plot docs/img/training-scale.png
Prints one line per configuration: seconds (best of --repeat), epochs run, seconds per epoch, the final
validation metric. ``--events``: the scale curve instead, on synthetic shop-shaped data (below), each size
in its own process so that its peak memory is its own.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from app.encoder.model import Encoder
from app.evaluation import datasets, methods
from app.evaluation.protocols import Indexed
from app.trainer.fit import fit
from app.trainer.types import TrainData, TrainParams, objectives
from scripts.lib.protocols import text_vectors

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = {"auto (the job's default)": {"objective": "auto"},
           "rating, gibbs": {"objective": "rating"},
           "rating, adam": {"objective": "rating", "solver": "adam"},
           "ranking, adam": {"objective": "ranking"},
           "ranking, the default blend as given (no choice)": {"objective": "ranking", "select": False},
           "ranking, no appended terms": {"objective": "ranking", "neighbourhood_weight": 0.0, "content_weight": 0.0}}


def shop(n_events: int, n_items: int, seed: int = 0, dim: int = 384) -> TrainData:
    """Synthetic events shaped like a shop's: item popularity by a power law (Zipf exponent 1), users' activity
    lognormal (20 events on average), tastes in 50 clusters that the items' text vectors share, clicks only.
    The catalog is fixed (a shop with more shoppers, not more products), so every size trains the same
    softmax and time per event is comparable."""
    rng = np.random.default_rng(seed)
    n_users = max(100, n_events // 20)
    cluster = rng.integers(0, 50, n_items)
    centers = rng.normal(0, 1, (50, dim))
    text = (centers[cluster] + rng.normal(0, 1.5, (n_items, dim))).astype(np.float32)
    text /= np.linalg.norm(text, axis=1, keepdims=True)
    activity = rng.lognormal(0, 1, n_users)
    users = rng.choice(n_users, n_events, p=activity / activity.sum())
    taste = rng.integers(0, 50, n_users)
    popularity = 1.0 / np.arange(1, n_items + 1)
    items = np.empty(n_events, np.int64)
    own = rng.random(n_events) < 0.7  # 70% of events in the user's taste cluster, the rest by popularity
    by_cluster = [np.flatnonzero(cluster == c) for c in range(50)]
    weights = [popularity[ix] / popularity[ix].sum() for ix in by_cluster]
    for c in range(50):
        rows = np.flatnonzero(own & (taste[users] == c))
        items[rows] = rng.choice(by_cluster[c], len(rows), p=weights[c])
    items[~own] = rng.choice(n_items, int((~own).sum()), p=popularity / popularity.sum())
    return TrainData(n_users, n_items, users.astype(np.int64), items, np.full(n_events, np.nan, np.float32),
                     np.ones(n_events, np.float32), text, np.ones(n_items, bool))


def scale_point(n_events: int, n_items: int, threads: int, device: str = "cpu") -> dict:
    """One size, in this process: seconds, epochs, peak memory (the process's maximum RSS)."""
    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    data = shop(n_events, n_items)
    make_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    model = fit(data, TrainParams(device=device, objective="ranking"))
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    best = max(h["val_recall@20"] for h in model.history if h["val_recall@20"] is not None)
    return {"device": device, "events": n_events, "users": data.n_users, "items": n_items, "seconds": round(seconds, 1),
            "epochs": len(model.history), "s_per_epoch": round(seconds / len(model.history), 2),
            "us_per_event_epoch": round(seconds / len(model.history) / n_events * 1e6, 2),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "val_recall@20": round(best, 4), "data_s": round(make_s, 1)}


def scale_curve(sizes: list[int], n_items: int, threads: int, plot: Path | None, device: str = "cpu") -> list[dict]:
    rows = []
    for n in sizes:
        out = subprocess.run([sys.executable, "-m", "scripts.bench_training", "--point", str(n), "--items",
                              str(n_items), "--threads", str(threads), "--device", device], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
        print("  " + "  ".join(f"{k}={v}" for k, v in rows[-1].items()), flush=True)
    if plot:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4))
        events = [r["events"] for r in rows]
        left.loglog(events, [r["seconds"] for r in rows], "o-", label="measured")
        left.loglog(events, [rows[0]["seconds"] * e / events[0] for e in events], "--", color="grey",
                    label="linear from the first point")
        left.set(xlabel="events", ylabel="training seconds", title=f"Ranking fit ({device})")
        left.legend()
        right.semilogx(events, [r["peak_rss_mb"] / 1024 for r in rows], "o-")
        right.set(xlabel="events", ylabel="peak memory (GB)", title=f"Peak RSS ({n_items:,} items)")
        fig.tight_layout()
        plot.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(plot, dpi=110)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-root", type=Path, default=ROOT.parent / "shared" / "data")
    p.add_argument("--dataset", default="ml-100k")
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--only", default="", help="configuration names separated by \";\" (default: all)")
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--events", default="", help="the scale curve: event counts, e.g. 1e5,1e6,1e7")
    p.add_argument("--items", type=int, default=100_000, help="the scale curve's catalog")
    p.add_argument("--plot", type=Path, help="the scale curve as a PNG")
    p.add_argument("--device", default="cpu", help="cpu, cuda (scripts/bench_gpu.sh compares them)")
    p.add_argument("--json", type=Path, help="also write the figures here")
    p.add_argument("--point", type=int, help=argparse.SUPPRESS)  # one size of the curve, in a child process
    args = p.parse_args()
    if args.point:
        print(json.dumps(scale_point(args.point, args.items, args.threads, args.device)))
        return
    if args.events:
        print(f"scale curve: synthetic shop, {args.items} items, {args.threads} torch threads", flush=True)
        rows = scale_curve([int(float(n)) for n in args.events.split(",")], args.items, args.threads, args.plot,
                           args.device)
        if args.json:
            args.json.write_text(json.dumps(rows, indent=2))
        return
    torch.set_num_threads(args.threads)

    ds = datasets.load(args.dataset, args.data_root)
    ix = Indexed(ds)
    encoder = Encoder(device=args.device)
    vectors = text_vectors(ix, encoder)
    task = ix.task(np.ones(len(ix.u), bool), **vectors)
    print(f"{args.dataset}: {len(ix.u)} events, {len(ix.user_ids)} users, {len(ix.item_ids)} items, "
          f"{args.threads} torch threads")
    for name, over in CONFIGS.items():
        if args.only and name not in args.only.split(";"):
            continue
        params = replace(TrainParams(device=args.device), **over)
        data = methods.served_data(task, params)  # every event a rating, as the data sets hold them
        runs = []
        for _ in range(args.repeat):
            fits = []
            for objective in objectives(data, params.objective):  # auto: ranking, then the rater
                start = time.perf_counter()
                model = fit(data, replace(params, objective=objective))
                fits.append((objective, time.perf_counter() - start, model))
            runs.append(fits)
        fits = min(runs, key=lambda run: sum(seconds for _, seconds, _ in run))
        parts = []
        for objective, seconds, model in fits:
            metric = next(k for k in model.history[-1] if k.startswith("val_"))
            best = (min if metric == "val_rmse" else max)(h[metric] for h in model.history if h[metric] is not None)
            parts.append(f"{objective} {seconds:5.1f} s, {len(model.history):3d} epochs "
                         f"({seconds / len(model.history):.3f} s each), best {metric} {best:.4f}")
        total = sum(seconds for _, seconds, _ in fits)
        print(f"  {name:26s} {total:6.1f} s  = " + "; ".join(parts), flush=True)


if __name__ == "__main__":
    main()
