"""The simplest strong rankers, scored on a fit's own validation events: a version's recall has a yardstick.

Most-popular and item-kNN (cosine co-occurrence, the peer that beats most factor models on small catalogs)
see the same training events and are asked the same question as the fit's validation (each sampled user's
latest event, their training items excluded, recall@20), so the dashboard and `/v1/models` can show how much
the model adds, or that it adds nothing.
"""

import math

import numpy as np
import scipy.sparse as sp

from app.trainer.types import Factors, TrainData

KNN_MAX_ITEMS = 100_000  # above it the (users x catalog) chunks of item-kNN cost more than the fit's validation
SERVED_CHECK_MAX_EVENTS = 2_000_000  # the served version's check refits its terms (an SVD): seconds up to here


def _hits(scores: np.ndarray, had: sp.csr_matrix, truth: np.ndarray, k: int) -> int:
    scores = scores.astype(np.float64)
    scores[had.nonzero()] = -np.inf
    top = np.argpartition(-scores, min(k, scores.shape[1]) - 1, axis=1)[:, :k]
    return int((top == truth[:, None]).any(1).sum())


def _seen(data: TrainData, train_rows: np.ndarray) -> sp.csr_matrix:
    seen = sp.csr_matrix((np.ones(len(train_rows), np.float32), (data.users[train_rows], data.items[train_rows])),
                         shape=(data.n_users, data.n_items))
    seen.data[:] = 1.0  # an item had twice is still one co-occurrence
    return seen


def recall(factors: Factors, data: TrainData, train_rows: np.ndarray, val_rows: np.ndarray, k: int = 20,
           chunk: int = 256) -> float:
    """Recall@k of ``factors`` (appended terms included: the score serving computes) on the validation events."""
    seen = _seen(data, train_rows)
    hits = 0
    for part in np.array_split(val_rows, math.ceil(len(val_rows) / chunk)):
        rows = data.users[part]
        scores = factors.user_factors[rows] @ factors.item_factors.T + factors.item_bias
        hits += _hits(scores, seen[rows], data.items[part], k)
    return round(hits / len(val_rows), 5)


def validation_recalls(data: TrainData, train_rows: np.ndarray, val_rows: np.ndarray, k: int = 20,
                       chunk: int = 256) -> dict[str, float]:
    """``{"popular": r, "item_knn": r}`` (item-kNN left out above ``KNN_MAX_ITEMS`` items); {} without
    validation events. (``fit`` adds ``semrec``: the version as served, by ``recall``.)"""
    if not len(val_rows):
        return {}
    seen = _seen(data, train_rows)
    popularity = np.asarray(seen.sum(0)).ravel()
    rankers = {"popular": lambda rows: np.broadcast_to(popularity, (len(rows), data.n_items)).copy()}
    if data.n_items <= KNN_MAX_ITEMS:
        norm = seen @ sp.diags(1.0 / np.sqrt(np.maximum(popularity, 1.0)))  # cosine: columns at unit norm
        rankers["item_knn"] = lambda rows: np.asarray(((seen[rows] @ norm.T) @ norm).todense())
    hits = dict.fromkeys(rankers, 0)
    val_users, val_items = data.users[val_rows], data.items[val_rows]
    for part in np.array_split(np.arange(len(val_rows)), math.ceil(len(val_rows) / chunk)):
        rows, truth = val_users[part], val_items[part]
        had = seen[rows]
        for name, scores_of in rankers.items():
            hits[name] += _hits(scores_of(rows), had, truth, k)
    return {name: round(hit / len(val_rows), 5) for name, hit in hits.items()}
