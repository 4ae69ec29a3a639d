"""Training time on a whole data set (default: ML-100K), per objective and solver: ``fit`` only, the text
vectors computed first (the service's job has them in the store already).

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
from app.trainer.types import TrainParams

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = {"rating, gibbs (default)": {"objective": "rating"},
           "rating, adam": {"objective": "rating", "solver": "adam"},
           "ranking, adam (default)": {"objective": "ranking"}}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-root", type=Path, default=ROOT.parent / "shared" / "data")
    p.add_argument("--dataset", default="ml-100k")
    p.add_argument("--repeat", type=int, default=1)
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
        data = methods._train_data(task, ratings=over["objective"] == "rating")
        runs = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            model = fit(data, replace(TrainParams(device="cpu"), **over))
            runs.append((time.perf_counter() - start, model))
        seconds, model = min(runs, key=lambda r: r[0])
        last = model.history[-1]
        metric = next(k for k in last if k.startswith("val_"))
        print(f"  {name:26s} {seconds:6.1f} s  {len(model.history):4d} epochs  "
              f"{seconds / len(model.history):.3f} s/epoch  {metric} {last[metric]:.4f}", flush=True)


if __name__ == "__main__":
    main()
