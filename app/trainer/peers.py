"""The simplest strong rankers, scored on a fit's own validation events: a version's recall has a yardstick.

Most-popular and item-kNN (cosine co-occurrence, the peer that beats most factor models on small catalogs)
see the same training events and are asked the same question as the fit's validation (each sampled user's
latest event, their training items excluded, recall@20), so the dashboard and `/v1/models` can show how much
the model adds, or that it adds nothing.
"""

import math
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

from app.trainer.types import Factors, TrainData

# Item-kNN's co-occurrences and the served version's check (its terms refit without the validation events: an
# SVD) run up to this many training events. ML-100K: 0.4 s beside a 15 s fit. 10^6 events of a shop-like
# synthetic store (bench_training.shop): 11 s item-kNN, 14 s refit and 5 s scoring beside a 135 s job, 22% more,
# and growing faster than the fit. 10^5 events over 100,000 items: 5.8 s beside a 23 s fit (scoring the whole
# catalog for each validation user). Beyond either limit only most-popular is reported (a second or so).
MAX_EVENTS = 500_000
MAX_ITEMS = 50_000  # the catalogs the full softmax trains on, where item-kNN is the peer to beat
CHUNK_SCORES = 4_000_000  # scores held at once: validation users per chunk x catalog


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


def within_limits(data: TrainData, train_rows: np.ndarray) -> bool:
    """Whether item-kNN and the served version's check are cheap enough to run beside the fit."""
    return len(train_rows) <= MAX_EVENTS and data.n_items <= MAX_ITEMS


def _parts(n: int, n_items: int) -> list[np.ndarray]:
    """Positions 0..n-1 in chunks whose (chunk x catalog) scores stay within CHUNK_SCORES."""
    size = max(1, min(256, CHUNK_SCORES // max(n_items, 1)))
    return np.array_split(np.arange(n), math.ceil(n / size)) if n else []


def yardstick(data: TrainData, train_rows: np.ndarray, val_rows: np.ndarray,
              served: Callable[[TrainData], Factors], k: int = 20) -> dict[str, float]:
    """Recall@k on the validation events of most-popular, and within ``within_limits`` of item-kNN and of the
    version as served (``semrec``: ``served`` makes it from the training events alone, so the terms it appends
    never saw the validation events); {} without validation events."""
    if not len(val_rows):
        return {}
    seen = _seen(data, train_rows)
    popularity = np.asarray(seen.sum(0)).ravel()
    val_users, val_items = data.users[val_rows], data.items[val_rows]
    out = {"popular": _popular_hits(seen, popularity, val_users, val_items, k) / len(val_rows)}
    if within_limits(data, train_rows):
        norm = seen @ sp.diags(1.0 / np.sqrt(np.maximum(popularity, 1.0)))  # cosine: columns at unit norm
        version = served(data.only(train_rows))
        knn = mine = 0
        for part in _parts(len(val_rows), data.n_items):
            rows, had, truth = val_users[part], seen[val_users[part]], val_items[part]
            knn += _hits(np.asarray(((had @ norm.T) @ norm).todense()), had, truth, k)
            mine += _hits(version.user_factors[rows] @ version.item_factors.T + version.item_bias, had, truth, k)
        out |= {"semrec": mine / len(val_rows), "item_knn": knn / len(val_rows)}
    return {name: round(r, 5) for name, r in out.items()}


def _popular_hits(seen: sp.csr_matrix, popularity: np.ndarray, users: np.ndarray, truth: np.ndarray, k: int) -> int:
    """The k most popular items each user has not had, read off the head of one popularity order (never a
    users x catalog matrix: a million-item catalog is 8 MB a user)."""
    order = np.argsort(-popularity, kind="stable")
    hits = 0
    for part in np.array_split(np.arange(len(users)), math.ceil(len(users) / 256)):
        had = seen[users[part]]
        head = order[: k + int(had.getnnz(1).max(initial=0))]
        fresh = ~had[:, head].toarray().astype(bool)  # (users, head): not had yet
        rank = np.cumsum(fresh, axis=1)
        listed = fresh & (rank <= k)
        hits += int((listed & (head[None, :] == truth[part, None])).any(1).sum())
    return hits
