"""The low-rank EASE term (``app.trainer.ease``) against the exact EASE peer on P2, same split, same run: the
exact one chooses its λ on its own carve of the training events (``app.evaluation.methods.ease``); the low-rank
one is scored at that λ, a quarter and four times it, at ranks 64, 128 and 256. Item-kNN for reference.

    python -m scripts.analyse_ease                    # every data set in ../shared/data
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from app.evaluation import datasets, methods
from app.evaluation.protocols import Indexed, evaluate_ranker
from app.trainer import ease
from scripts.lib.protocols import SPLITS

ROOT = Path(__file__).resolve().parents[1]


def low_rank(rank: int, lam: float):
    def fit_task(task):
        x = methods._csr(task)
        user_side, item_side = ease.sides(x, *ease.spectrum(x, min(rank, min(x.shape) - 1), 0), lam)
        return lambda users: user_side[users] @ item_side.T
    return fit_task


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-root", type=Path, default=ROOT.parent / "shared" / "data")
    p.add_argument("--datasets", default="")
    args = p.parse_args()
    for name in args.datasets.split(",") if args.datasets else datasets.available(args.data_root):
        ix = Indexed(datasets.load(name, args.data_root))
        split = SPLITS["P2"](ix)

        def show(label: str, method, name=name, ix=ix, split=split) -> dict:
            r = evaluate_ranker(method, ix, split, (10,))
            print(f"{name:24s} {label:28s} recall@10 {r['recall@10']:.4f} ndcg@10 {r['ndcg@10']:.4f}", flush=True)
            return r

        lam = show("EASE (exact)", methods.ease)["chosen"]["lambda"]
        for rank in (64, 128, 256):
            for scale in (0.25, 1.0, 4.0):
                show(f"low-rank r={rank} λ={lam * scale:g}", low_rank(rank, lam * scale))
        show("item-kNN", methods.item_knn)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
