"""How the blend weights of the terms appended to the ranking factors were chosen, on validation splits carved
from each data set's *training* events by the protocol's own rule, never on its test events:

- ``neighbourhood_weight`` (item-kNN) on P2: P2's training events, split again by the P2 rule;
- ``content_weight`` (TF-IDF for items without events) on P3: P3's training events, 20% of their items with
  at least 5 events made cold again by the P3 rule.

Prints the metrics of semrec's default fit for each weight, the other weight at its default.

    python -m scripts.analyse_terms                          # ML-100K and every Amazon category present
    python -m scripts.analyse_terms --terms content --weights 0,0.5,1
    python -m scripts.analyse_terms --fit-validation --seeds 0,1   # item-kNN on the fit's own validation events

``--fit-validation`` asks whether the trainer could choose the item-kNN weight itself, on its own validation
events (each sampled user's latest): the epochs are early-stopped on every other one of them, and the grid is
scored on both halves, the knn term built without the scored events. The half early stopping never read shows
what a blend chosen inside the trainer would pick; the other half, how much early stopping flatters the factors.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix

from app.core.config import Settings
from app.encoder.model import Encoder
from app.evaluation import datasets, methods
from app.evaluation.protocols import Indexed, p2_temporal, p3_cold_items, ranking_metrics
from app.trainer import model, neighbourhood, terms
from app.trainer.fit import fit
from app.trainer.types import TrainParams

ROOT = Path(__file__).resolve().parents[1]

TERMS = {"neighbourhood": ("neighbourhood_weight", p2_temporal, (10, 20)),
         "content": ("content_weight", p3_cold_items, (10,))}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-root", type=Path, default=ROOT.parent / "shared" / "data")
    p.add_argument("--datasets", default="")
    p.add_argument("--terms", default="neighbourhood,content")
    p.add_argument("--weights", default="0,0.25,0.5,1,2")
    p.add_argument("--seed", type=int, default=0, help="the training seed")
    p.add_argument("--fit-validation", action="store_true",
                   help="item-kNN weights on the fit's own validation events instead (P2's training events)")
    p.add_argument("--seeds", default="0", help="--fit-validation: the training seeds")
    args = p.parse_args()
    encoder, settings = Encoder(device="cpu"), Settings()
    names = args.datasets.split(",") if args.datasets else datasets.available(args.data_root)
    for name in names:
        ds = datasets.load(name, args.data_root)
        if args.fit_validation:
            fit_validation(name, ds, encoder, settings, [float(w) for w in args.weights.split(",")],
                           [int(x) for x in args.seeds.split(",")])
            continue
        for term in args.terms.split(","):
            field, rule, ks = TERMS[term]
            inner = ds.subset(rule(Indexed(ds)).train)  # the protocol's training events only
            inner.user_text = ds.user_text
            ix = Indexed(inner)
            split = rule(ix)
            texts = ix.texts(split.train, settings.item_review_texts, settings.user_review_texts)
            task = ix.task(split.train, item_vectors=encoder.encode(texts[0]),
                           user_vectors=encoder.encode(texts[1]) if any(texts[1]) else None, texts=texts)
            for w in map(float, args.weights.split(",")):
                params = replace(TrainParams(device="cpu", seed=args.seed), **{field: w})
                scores = methods.semrec_ranker(params)(task)(split.eval_users)
                m = ranking_metrics(scores, split.eval_users, split, ix, ks)
                print(f"{name:22s} {term:13s} weight {w:<5g} " + "  ".join(f"{k} {v:.4f}" for k, v in m.items()),
                      flush=True)


def fit_validation(name: str, ds, encoder: Encoder, settings: Settings, weights: list[float],
                   seeds: list[int]) -> None:
    """The item-kNN grid on the fit's own validation events of P2's training data (see the module's doc)."""
    ix = Indexed(ds)
    split = p2_temporal(ix)
    texts = ix.texts(split.train, settings.item_review_texts, settings.user_review_texts)
    task = ix.task(split.train, item_vectors=encoder.encode(texts[0]),
                   user_vectors=encoder.encode(texts[1]) if any(texts[1]) else None, texts=texts)
    seen: dict = {}
    inner = model.fit_adam

    def halves(data, p, train_rows, val_rows, *rest):  # early stopping on every other validation event
        seen.update(stop=val_rows[0::2], held=val_rows[1::2])
        seen["factors"] = inner(data, p, train_rows, seen["stop"], *rest)
        return seen["factors"]
    model.fit_adam = halves
    try:
        for seed in seeds:
            p = TrainParams(device="cpu", seed=seed, objective="ranking", neighbourhood_weight=0.0,
                            content_weight=0.0)
            data = methods.served_data(task, p)
            f = fit(data, p)
            for half in ("held", "stop"):
                n, figures = knn_grid(data, seen["factors"], seen[half], weights, seed)
                label = "not read by early stopping" if half == "held" else "early-stopped on"
                print(f"{name:22s} seed {seed} {len(f.history):3d} epochs, {n:4d} events {label:27s} ndcg@10 "
                      + "  ".join(f"{w:g}: {v:.4f}" for w, v in figures.items()), flush=True)
    finally:
        model.fit_adam = inner


def knn_grid(data, factors, rows: np.ndarray, weights: list[float], seed: int,
             rank: int = TrainParams.neighbourhood_rank) -> tuple[int, dict[float, float]]:
    """NDCG@10 of the events ``rows`` (each its user's held-out item, ranked among the items the user has no
    other event on) under factors + weight x the item-kNN term (scaled as the trainer scales it) built from
    every other event."""
    keep = np.ones(len(data.users), bool)
    keep[rows] = False
    x = csr_matrix((np.ones(int(keep.sum())), (data.users[keep], data.items[keep])), shape=(data.n_users,
                                                                                           data.n_items))
    x.data[:] = 1.0
    users, targets = data.users[rows], data.items[rows]
    had = x[users].toarray() > 0
    ok = ~had[np.arange(len(users)), targets]  # an item the user has another event on is no question
    users, targets, had = users[ok], targets[ok], had[ok]
    e = neighbourhood.item_side(x, min(rank, data.n_users - 1, data.n_items - 1), seed)
    k = np.asarray(x[users] @ e)
    k *= terms.scales(factors, users, k, e, terms.sample_items(data.n_items))[:, None]
    mf, knn = factors.user_factors[users] @ factors.item_factors.T + factors.item_bias, k @ e.T
    out = {}
    for w in weights:
        s = np.where(had, -np.inf, mf + w * knn)
        position = (s > s[np.arange(len(users)), targets][:, None]).sum(1) + 1
        out[w] = float(np.where(position <= 10, 1.0 / np.log2(position + 1), 0.0).mean())
    return len(users), out


if __name__ == "__main__":
    main()
