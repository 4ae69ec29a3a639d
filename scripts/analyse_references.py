"""How many reference users a few-event visitor's posterior needs (``neighbours.MAX_REFERENCES``). Each request
reads every reference's profile and factors, so the cost grows with their number (docs/serving.md); what the
number buys is measured here: P4 of shared PROTOCOLS.md (cold users with 3 training events), the service's
few-event ranking (the references' items by the posterior, the rest by its mean taste) with the references
sampled down to each size, several sampling seeds each, the same metric code as scripts/evaluate.py.

    python -m scripts.analyse_references              # ../shared/data: every data set with enough users

Gift Cards has fewer than ``neighbours.MIN_REFERENCES`` established users: only ML-100K has a curve here.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from app.encoder.model import Encoder
from app.evaluation import datasets, methods
from app.evaluation.protocols import Indexed, p4_cold_users, ranking_metrics
from app.model import neighbours, serving
from app.trainer import few_events
from app.trainer.fit import fit
from app.trainer.types import TrainParams

ROOT = Path(__file__).resolve().parents[1]


def served_scores(refs: neighbours.References, item_vectors: np.ndarray, indptr: np.ndarray, items: np.ndarray,
                  users: np.ndarray, profiles: list) -> np.ndarray:
    """Each cold user's scores as the service ranks a visitor the model does not know."""
    rows = []
    for u, profile in zip(users, profiles, strict=True):
        had = items[indptr[u]: indptr[u + 1]]
        w = neighbours.weights(refs, item_vectors, had, profile, exclude_user=u)
        first = neighbours.through_histories(refs, w)
        rows.append(neighbours.ranked(first, item_vectors @ np.append(neighbours.taste(refs, w), 1.0)))
    return np.stack(rows).astype(np.float64)


def analyse(name: str, ix: Indexed, encoder: Encoder, sizes: list[int], seeds: int) -> None:
    split = p4_cold_users(ix)
    users = split.eval_users
    task = ix.task(split.train, item_vectors=encoder.encode(ix.item_texts),
                   user_vectors=encoder.encode(ix.user_texts))
    data = methods._train_data(task, ratings=False)
    f = fit(data, TrainParams(objective="ranking"))
    item_vectors, _ = serving.item_vectors(f)
    indptr, items, chosen, profiles = few_events.references(data)
    if not len(chosen):
        print(f"P4 on {name}: fewer than {neighbours.MIN_REFERENCES} established users, no references")
        return
    visitor_profiles = [task.user_vectors[u] if data.user_has_text is not None and data.user_has_text[u] else None
                        for u in users]
    print(f"P4 on {name}: {len(users)} cold users, {len(chosen)} established users to sample from")
    for size in [s for s in sizes if s < len(chosen)] + [len(chosen)]:
        figures = []
        for seed in range(seeds if size < len(chosen) else 1):
            keep = np.sort(np.random.default_rng(seed).choice(len(chosen), size, replace=False))
            refs = neighbours.build(chosen[keep], f.factor_user_factors, item_vectors, indptr, items,
                                    None if profiles is None else profiles[keep])
            scores = served_scores(refs, item_vectors, indptr, items, users, visitor_profiles)
            figures.append(ranking_metrics(scores, users, split, ix, (10,)))
        ndcg = [m["ndcg@10"] for m in figures]
        recall = [m["recall@10"] for m in figures]
        print(f"  {size:5d} references: NDCG@10 {np.mean(ndcg):.4f} (seeds {min(ndcg):.4f}-{max(ndcg):.4f})  "
              f"Recall@10 {np.mean(recall):.4f} (seeds {min(recall):.4f}-{max(recall):.4f})", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-root", type=Path, default=ROOT.parent / "shared" / "data")
    p.add_argument("--datasets", default="", help="comma-separated names (default: every one at hand)")
    p.add_argument("--sizes", default="50,100,200,400", help="reference counts below all of them")
    p.add_argument("--seeds", type=int, default=5)
    args = p.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    names = [n for n in args.datasets.split(",") if n] or datasets.available(args.data_root)
    encoder = Encoder(device="cpu")
    for name in names:
        analyse(name, Indexed(datasets.load(name, args.data_root)), encoder, [int(s) for s in args.sizes.split(",")],
                args.seeds)


if __name__ == "__main__":
    main()
