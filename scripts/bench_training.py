"""Training time on a whole data set (default: ML-100K): the default job's fits (``auto``: the ranking factors on
every rating, weighted by value, then the Gibbs rater), and each objective and solver alone: ``fit`` only, the
text vectors computed first (the service's job has them in the store already).

    python scripts/bench_training.py                      # ../shared/data/ml-100k, every objective and solver
    python scripts/bench_training.py --repeat 3 --threads 2
Prints one line per configuration: seconds (best of --repeat), epochs run, seconds per epoch, the final
validation metric.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from app.encoder.model import Encoder
from app.evaluation import datasets, methods
from app.evaluation.protocols import Indexed
from app.trainer.fit import fit
from app.trainer.types import TrainParams, objectives

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = {"auto (the job's default)": {"objective": "auto"},
           "rating, gibbs": {"objective": "rating"},
           "rating, adam": {"objective": "rating", "solver": "adam"},
           "ranking, adam": {"objective": "ranking"},
           "ranking, no appended terms": {"objective": "ranking", "neighbourhood_weight": 0.0, "content_weight": 0.0}}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-root", type=Path, default=ROOT.parent / "shared" / "data")
    p.add_argument("--dataset", default="ml-100k")
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--only", default="", help="configuration names separated by \";\" (default: all)")
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    ds = datasets.load(args.dataset, args.data_root)
    ix = Indexed(ds)
    encoder = Encoder(device="cpu")
    vectors = {"item_vectors": encoder.encode(ix.item_texts)}
    if any(ix.user_texts):
        vectors["user_vectors"] = encoder.encode(ix.user_texts)
    task = ix.task(np.ones(len(ix.u), bool), **vectors)
    print(f"{args.dataset}: {len(ix.u)} events, {len(ix.user_ids)} users, {len(ix.item_ids)} items, "
          f"{args.threads} torch threads")
    for name, over in CONFIGS.items():
        if args.only and name not in args.only.split(";"):
            continue
        params = replace(TrainParams(device="cpu"), **over)
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
