"""What orders a few-event visitor's items that none of their similar users had: a fold-in of their events from
the average user (an L-BFGS fit per visitor, 10-20 ms at 100k items) against the posterior mean of the
references' factors (``neighbours.taste``: one product over the references). P4 of shared PROTOCOLS.md (cold
users with 3 training events), the same metric code as scripts/evaluate.py, on every data set at hand.

    python -m scripts.analyse_tail                   # ../shared/data: ML-100K and the Amazon categories there

Each cold user is treated as the service treats a visitor the model does not know: the fold-in starts from
the average user; the posterior leaves the user out of the references. Printed per data set, NDCG@10 and
Recall@10 of: each vector alone over the catalog; and each as the tail after the few-event scores
(``neighbours.ranked``), which is what the service serves. Timings are per visitor, one thread.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from app.core.config import Settings
from app.encoder.model import Encoder
from app.evaluation import datasets, methods
from app.evaluation.protocols import Indexed, p4_cold_users, ranking_metrics
from app.model import neighbours, serving
from app.recommender.ranking import softmax_fold_in
from app.trainer import few_events
from app.trainer.fit import fit
from app.trainer.types import TrainParams

ROOT = Path(__file__).resolve().parents[1]


def analyse(name: str, ix: Indexed, encoder: Encoder) -> None:
    split = p4_cold_users(ix)
    users = split.eval_users
    vectors = {"item_vectors": encoder.encode(ix.item_texts), "user_vectors": encoder.encode(ix.user_texts)}
    task = ix.task(split.train, **vectors)
    data = methods._train_data(task, ratings=False)
    f = fit(data, TrainParams(objective="ranking"))
    item_vectors, _ = serving.item_vectors(f)
    indptr, items, chosen, profiles = few_events.references(data)
    refs = neighbours.build(chosen, f.factor_user_factors, item_vectors, indptr, items, profiles)
    if not len(refs.users):
        print(f"P4 on {name}: fewer than {neighbours.MIN_REFERENCES} established users, no references")
        return
    events = np.diff(indptr)
    mean_user = f.user_factors[events >= neighbours.MIN_EVENTS].mean(0).astype(np.float64)
    normaliser, _ = neighbours.normaliser_items(item_vectors)
    cq, cb = normaliser[:, :-1].astype(np.float64), normaliser[:, -1].astype(np.float64)
    lam = Settings.model_fields["fold_in_reg"].default
    rows = {"fold-in": [], "posterior": []}
    first_rows, took = [], {"fold-in": 0.0, "posterior": 0.0}
    for u in users:
        had = items[indptr[u]: indptr[u + 1]]
        profile = task.user_vectors[u] if data.user_has_text is not None and data.user_has_text[u] else None
        q = item_vectors[had, :-1].astype(np.float64)
        b = item_vectors[had, -1].astype(np.float64)
        t0 = time.perf_counter()
        folded = softmax_fold_in(mean_user, q, b, np.full(len(had), 1.0 / len(had)), cq, cb, lam)
        t1 = time.perf_counter()
        w = neighbours.weights(refs, item_vectors, had, profile, exclude_user=u)
        taste = neighbours.taste(refs, w)
        t2 = time.perf_counter()
        took["fold-in"] += t1 - t0
        took["posterior"] += t2 - t1
        rows["fold-in"].append(item_vectors @ np.append(folded, 1.0).astype(np.float32))
        rows["posterior"].append(item_vectors @ np.append(taste, 1.0).astype(np.float32))
        first_rows.append(neighbours.through_histories(refs, w))
    first = np.stack(first_rows)
    print(f"P4 on {name}: {len(users)} cold users, {task.n_items} items, {len(refs.users)} references")
    for label, scores in rows.items():
        alone = ranking_metrics(np.stack(scores).astype(np.float64), users, split, ix, (10,))
        tail = ranking_metrics(neighbours.ranked(first, np.stack(scores)), users, split, ix, (10,))
        print(f"  {label:10s} alone NDCG@10 {alone['ndcg@10']:.4f} Recall@10 {alone['recall@10']:.4f}   "
              f"as the tail NDCG@10 {tail['ndcg@10']:.4f} Recall@10 {tail['recall@10']:.4f}   "
              f"{took[label] / len(users) * 1e3:.2f} ms per visitor", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-root", type=Path, default=ROOT.parent / "shared" / "data")
    p.add_argument("--datasets", default="", help="comma-separated names (default: every one at hand)")
    args = p.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    names = [n for n in args.datasets.split(",") if n] or datasets.available(args.data_root)
    encoder = Encoder(device="cpu")
    for name in names:
        analyse(name, Indexed(datasets.load(name, args.data_root)), encoder)


if __name__ == "__main__":
    main()
