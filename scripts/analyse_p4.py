"""Why popularity is hard to beat on P4 (cold users, 3 training events): the P4 split of shared PROTOCOLS.md,
the same metric code as scripts/evaluate.py, and rankers that use the three events in different ways.

    python -m scripts.analyse_p4                     # ../shared/data/ml-100k
    python -m scripts.analyse_p4 --segments 16

Prints NDCG@10 and Recall@10 for: popularity; semrec's trained model as evaluated, with only its item biases,
and with the cold users moved to the average user; item-to-item co-occurrence from the three events; EASE
(Steck 2019) at several L2 weights; and popularity among users of the same profile segment (k-means over the
profile text vectors), which ignores the three events; cold users moved or shrunk toward the activity-weighted
average user; and a user-kNN mixture weighting other users by profile similarity and by the likelihood of the
three events: the service's few-event ranking (``app.model.neighbours``), what scripts/evaluate.py now
reports for P4. An exploration, not a protocol result: the settings here were chosen by looking at this split's
test figures, except the last row's, which come from a validation split carved from the training data by the
same P4 rule (seed 2, the test users left out) and are the service's constants.
"""

from __future__ import annotations

import argparse
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


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "ml-100k")
    p.add_argument("--segments", type=int, default=16)
    args = p.parse_args()

    ix = Indexed(datasets.load_ml100k(args.data))
    split = p4_cold_users(ix)
    users = split.eval_users
    encoder = Encoder(device="cpu")
    vectors = {"item_vectors": encoder.encode(ix.item_texts), "user_vectors": encoder.encode(ix.user_texts)}
    task = ix.task(split.train, **vectors)
    n_items = task.n_items
    seen = np.zeros((task.n_users, n_items))
    np.add.at(seen, (task.users, task.items), 1.0)
    seen = np.minimum(seen, 1.0)
    counts = seen.sum(0)

    def report(name: str, scores: np.ndarray) -> None:
        m = ranking_metrics(np.asarray(scores, np.float64), users, split, ix, (10,))
        print(f"  {name:52s} NDCG@10 {m['ndcg@10']:.4f}  Recall@10 {m['recall@10']:.4f}", flush=True)

    print(f"P4 on {args.data.name}: {len(users)} cold users, each with 3 training events")
    report("popularity", methods.popularity(task)(users))

    f = fit(methods._train_data(task, ratings=False), TrainParams(objective="ranking"))
    report("semrec factors alone (semantic init + text map)", f.user_factors[users] @ f.item_factors.T + f.item_bias)
    report("semrec item biases only (no personal term)", np.tile(f.item_bias, (len(users), 1)))
    events = np.bincount(task.users, minlength=task.n_users).astype(np.float64)
    mean_user = f.user_factors[events >= 10].mean(0)
    report("semrec with each cold user moved to the average user", np.tile(mean_user @ f.item_factors.T + f.item_bias,
                                                                       (len(users), 1)))
    # The average weighted by events: what a typical interaction's user looks like, not a typical user.
    active_mean = (events[:, None] * f.user_factors).sum(0) / events.sum()
    report("semrec, cold users moved to the activity-weighted average",
           np.tile(active_mean @ f.item_factors.T + f.item_bias, (len(users), 1)))
    for n0 in (3.0, 10.0, 30.0):  # posterior-mean style shrinkage: n / (n + n0) of the user's own fit
        a = (events / (events + n0))[users, None]
        shrunk = active_mean + a * (f.user_factors[users] - active_mean)
        report(f"semrec, cold users shrunk to that average, n0 = {n0:g}", shrunk @ f.item_factors.T + f.item_bias)

    cooc = seen.T @ seen
    np.fill_diagonal(cooc, 0.0)
    report("co-occurrence with the 3 events", seen[users] @ cooc)
    gram = seen.T @ seen
    for lam in (300.0, 3000.0):
        inverse = np.linalg.inv(gram + lam * np.eye(n_items))
        weights = -inverse / np.diag(inverse)
        np.fill_diagonal(weights, 0.0)
        report(f"EASE, L2 {lam:g}", seen[users] @ weights)

    from sklearn.cluster import KMeans

    profile = vectors["user_vectors"] / np.linalg.norm(vectors["user_vectors"], axis=1, keepdims=True)
    label = KMeans(args.segments, n_init=4, random_state=0).fit_predict(profile)
    by_segment = np.zeros((args.segments, n_items))
    np.add.at(by_segment, label, seen)
    report(f"popularity within the profile segment ({args.segments} segments)",
           by_segment[label[users]] + 0.1 * counts)

    # Other users' histories, weighted by profile similarity and (tempered) by how likely semrec's model finds
    # the cold user's three events under each of them: the service's few-event ranking (app.recommender.
    # neighbours), its (tau, beta) chosen here on a validation split carved from the training data by the P4 rule.
    val_split = p4_cold_users(ix, seed=2, within=split.train, exclude=users)
    val_task = ix.task(val_split.train, **vectors)
    val_data = methods._train_data(val_task, ratings=False)
    val_refs, val_vectors, val_history = _references(fit(val_data, TrainParams(objective="ranking")), val_data)
    grid = [(tau, beta) for tau in (0.0, 0.05, 0.1, 0.2, 0.5) for beta in (0.0, 3.0, 10.0, 30.0)]
    val_ndcg = {}
    for tau, beta in grid:
        scores = _mixture(val_refs, val_vectors, val_history, val_task, val_split.eval_users, tau, beta)
        val_ndcg[tau, beta] = ranking_metrics(scores, val_split.eval_users, val_split, ix, (10,))["ndcg@10"]
    tau, beta = max(grid, key=val_ndcg.get)
    val_users = val_split.eval_users
    val_popularity = ranking_metrics(methods.popularity(val_task)(val_users), val_users, val_split, ix, (10,))
    print(f"  (validation: {len(val_users)} simulated cold users; best tau {tau:g}, beta {beta:g}, "
          f"NDCG@10 {val_ndcg[tau, beta]:.4f}; popularity there {val_popularity['ndcg@10']:.4f}; "
          f"the service uses tau {neighbours.TAU:g}, beta {neighbours.BETA:g})")
    refs, item_vectors, history = _references(f, methods._train_data(task, ratings=False))
    report(f"other users' items, events^{tau:g} x exp({beta:g} profile cos)",
           _mixture(refs, item_vectors, history, task, users, tau, beta))


def _references(f, data):
    item_vectors, _ = serving.item_vectors(f)
    indptr, items, chosen, profiles = few_events.references(data)
    return neighbours.build(chosen, f.factor_user_factors, item_vectors, indptr, items, profiles), item_vectors, \
        (indptr, items)


def _mixture(refs, item_vectors, history, task, targets, tau: float, beta: float) -> np.ndarray:
    indptr, items = history
    return np.stack([neighbours.scores(refs, item_vectors, items[indptr[u]: indptr[u + 1]], task.user_vectors[u],
                                       exclude_user=u, tau=tau, beta=beta) for u in targets])


if __name__ == "__main__":
    main()
