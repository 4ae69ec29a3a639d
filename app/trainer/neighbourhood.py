"""An item-kNN term next to the factors, served by the same inner product.

On small, sparse catalogs plain item-kNN (cosine over the binary user-item matrix) beats a factor model: it
keeps the exact co-occurrences that 64 factors smooth away. Its scores are a quadratic form, so they fit the
factors' serving path exactly: with Y = X D^-1/2 (X binary users x items, D the item counts) the cosine matrix
is YᵀY, and its rank-r truncation V S² Vᵀ gives

    knn(u, i) = x_u V S · (V S)_i

so the item side is E = V S (r columns), the user side x_u E, appended to q_i and p_u. Each user's knn part is
scaled to the spread of that user's factor scores, then by the blend weight, so the weight means the same for
a user with 3 events and one with 300. Rank 64-128 ranked as well as the exact kNN on ML-100K and Gift Cards.

    factors, info = widen(data, factors, params)   # info: rank and weight, for the version's params
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy.sparse import csr_matrix, diags
from scipy.sparse.linalg import svds

from app.trainer.types import Factors, TrainData, TrainParams

SCALE_ITEMS = 2_000  # the spread of a user's scores is taken over a fixed sample of this many items


def widen(data: TrainData, factors: Factors, p: TrainParams) -> tuple[Factors, dict]:
    """The ranking ``factors`` with the knn term of all of ``data``'s events appended (unchanged with weight
    or rank 0, or too few users or items for a rank-1 term)."""
    rank = min(p.neighbourhood_rank, data.n_users - 1, data.n_items - 1)
    info = {"rank": max(rank, 0), "weight": float(p.neighbourhood_weight)}
    if rank < 1 or p.neighbourhood_weight <= 0:
        return factors, {**info, "weight": 0.0}
    x = _binary(data)
    e = item_side(x, rank, p.seed)
    k = np.asarray(x @ e)
    users = np.arange(data.n_users)
    k *= (p.neighbourhood_weight * _scales(factors, users, k, e, _sample_items(data.n_items)))[:, None]
    return _appended(factors, k.astype(np.float32), e.astype(np.float32)), info


def item_side(x: csr_matrix, rank: int, seed: int) -> np.ndarray:
    """E = V S of the rank-``rank`` SVD of X D^-1/2 (X binary users x items): E_i · E_j ≈ cos(i, j). Items
    without events get zero rows."""
    counts = np.asarray(x.sum(0)).ravel()
    y = (x @ diags(1.0 / np.sqrt(np.maximum(counts, 1.0)))).astype(np.float64)
    _, s, vt = svds(y, k=rank, random_state=seed)
    return vt.T * s


def _binary(data: TrainData) -> csr_matrix:
    x = csr_matrix((np.ones(len(data.users), np.float64), (data.users, data.items)),
                   shape=(data.n_users, data.n_items))
    x.data[:] = 1.0  # repeated (user, item) events count once
    return x


def _sample_items(n_items: int) -> np.ndarray:
    if n_items <= SCALE_ITEMS:
        return np.arange(n_items)
    return np.sort(np.random.default_rng(0).choice(n_items, SCALE_ITEMS, replace=False))


def _scales(factors: Factors, users: np.ndarray, k: np.ndarray, e: np.ndarray, items: np.ndarray) -> np.ndarray:
    """Per user, std(factor scores) / std(knn scores) over ``items``: the two terms on one scale, so the weight
    means the same for every user whatever their number of events. A user without knn scores gets 0."""
    out = np.zeros(len(users))
    q = np.hstack([factors.item_factors[items], factors.item_bias[items, None]]).astype(np.float64)
    for start in range(0, len(users), 4096):
        chunk = slice(start, start + 4096)
        p = np.hstack([factors.user_factors[users[chunk]], np.ones((len(users[chunk]), 1))])
        mf_std = (p @ q.T).std(1)
        knn_std = (k[chunk] @ e[items].T).std(1)
        out[chunk] = np.where(knn_std > 1e-12, mf_std / np.maximum(knn_std, 1e-12), 0.0)
    return out


def _appended(f: Factors, k: np.ndarray, e: np.ndarray) -> Factors:
    """The factors with the knn columns appended; the text maps give them zeros (an item or user known only by
    text has no co-occurrences)."""
    r = e.shape[1]

    def pad_map(m: np.ndarray | None) -> np.ndarray | None:  # rows [q..., b]: zero rows before the bias row
        return None if m is None else np.vstack([m[:-1], np.zeros((r, m.shape[1]), m.dtype), m[-1:]])

    def pad_offset(o: np.ndarray | None) -> np.ndarray | None:
        return None if o is None else np.concatenate([o[:-1], np.zeros(r, o.dtype), o[-1:]])

    return replace(f, user_factors=np.hstack([f.user_factors, k]), item_factors=np.hstack([f.item_factors, e]),
                   item_map=pad_map(f.item_map), user_map=pad_map(f.user_map),
                   item_map_offset=pad_offset(f.item_map_offset), user_map_offset=pad_offset(f.user_map_offset))
