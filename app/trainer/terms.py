"""What the terms appended to the ranking factors share (``neighbourhood``: item-kNN, ``content``: TF-IDF for
items without events): each user's part brought to the spread of their factor scores, and the appending itself,
with zeros from the text maps (an item or user known only by text has no co-occurrences and no catalog words
in the version)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy.sparse import csr_matrix

from app.trainer.types import Factors, TrainData

SCALE_ITEMS = 2_000  # the spread of a user's scores is taken over a fixed sample of this many items


def binary(data: TrainData, rows: np.ndarray | None = None) -> csr_matrix:
    """X, users x items, 1 where the user has any event on the item (among ``rows``; default all)."""
    users, items = (data.users, data.items) if rows is None else (data.users[rows], data.items[rows])
    x = csr_matrix((np.ones(len(users), np.float64), (users, items)), shape=(data.n_users, data.n_items))
    x.data[:] = 1.0  # repeated (user, item) events count once
    return x



def sample_items(n_items: int) -> np.ndarray:
    if n_items <= SCALE_ITEMS:
        return np.arange(n_items)
    return np.sort(np.random.default_rng(0).choice(n_items, SCALE_ITEMS, replace=False))


def scales(factors: Factors, users: np.ndarray, k: np.ndarray, e: np.ndarray, items: np.ndarray) -> np.ndarray:
    """Per user, std(factor scores) / std(term scores) over ``items``: the two on one scale, so a term's weight
    means the same for every user whatever their number of events. A user without term scores gets 0."""
    out = np.zeros(len(users))
    q = np.hstack([factors.item_factors[items], factors.item_bias[items, None]]).astype(np.float64)
    for start in range(0, len(users), 4096):
        chunk = slice(start, start + 4096)
        p = np.hstack([factors.user_factors[users[chunk]], np.ones((len(users[chunk]), 1))])
        mf_std = (p @ q.T).std(1)
        term_std = (k[chunk] @ e[items].T).std(1)
        out[chunk] = np.where(term_std > 1e-12, mf_std / np.maximum(term_std, 1e-12), 0.0)
    return out


def appended(f: Factors, k: np.ndarray, e: np.ndarray) -> Factors:
    """The factors with the columns ``k`` (users) and ``e`` (items) appended; the text maps give them zeros."""
    r = e.shape[1]

    def pad_map(m: np.ndarray | None) -> np.ndarray | None:  # rows [q..., b]: zero rows before the bias row
        return None if m is None else np.vstack([m[:-1], np.zeros((r, m.shape[1]), m.dtype), m[-1:]])

    def pad_offset(o: np.ndarray | None) -> np.ndarray | None:
        return None if o is None else np.concatenate([o[:-1], np.zeros(r, o.dtype), o[-1:]])

    return replace(f, user_factors=np.hstack([f.user_factors, k]), item_factors=np.hstack([f.item_factors, e]),
                   item_map=pad_map(f.item_map), user_map=pad_map(f.user_map),
                   item_map_offset=pad_offset(f.item_map_offset), user_map_offset=pad_offset(f.user_map_offset))
