"""Diversity: trade score for variety in a list (``diversity`` 0-1), by maximal marginal relevance (Carbonell &
Goldstein 1998) over a pool of the best-scored candidates.

Each next item is the one that maximises (1 - d) · relevance - d · its largest likeness to the items already
chosen. Relevance is the item's score rescaled to 0-1 within the pool (so d means the same for logits,
popularity counts and few-event mixtures); likeness is the mean of the cosine of the two items' served factor
vectors (the model's sense of "bought by the same people") and whether they share a category (the shop's
sense of "the same kind of thing"), so that at higher d neither ten near-identical items nor ten of one
category fill the list. d = 0 keeps the order by score exactly. Figures on P2 (recall against intra-list
likeness and category coverage at d = 0, 0.3, 0.7): docs/serving.md, "Diversity".

    order = rerank(vectors, category_codes, scores, k, diversity=0.3)   # indexes into the pool, best first
"""

from __future__ import annotations

import numpy as np


def rerank(vectors: np.ndarray, categories: np.ndarray, scores: np.ndarray, k: int, diversity: float) -> np.ndarray:
    """Indexes of the pool's ``k`` items in MMR order. ``vectors`` (pool x d, zero rows for items with none),
    ``categories`` (pool; -1 for none), ``scores`` (pool, any scale)."""
    n = len(scores)
    k = min(k, n)
    if diversity <= 0 or n <= 1:
        return np.argsort(-np.asarray(scores), kind="stable")[:k]
    s = np.asarray(scores, np.float64)
    spread = s.max() - s.min()
    relevance = (s - s.min()) / spread if spread > 0 else np.ones(n)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = np.where(norms > 1e-12, vectors / np.maximum(norms, 1e-12), 0.0).astype(np.float64)
    closest = np.full(n, -np.inf)  # each candidate's largest likeness to the chosen ones
    chosen = np.zeros(n, bool)
    order = []
    for _ in range(k):
        gain = (1.0 - diversity) * relevance - diversity * np.where(np.isfinite(closest), closest, 0.0)
        gain[chosen] = -np.inf
        best = int(np.argmax(gain))
        order.append(best)
        chosen[best] = True
        same = (categories == categories[best]) & (categories >= 0)
        likeness = 0.5 * (unit @ unit[best]) + 0.5 * same
        closest = np.maximum(closest, likeness)
    return np.array(order, np.int64)


def likeness(vectors: np.ndarray, categories: np.ndarray) -> float:
    """A list's mean pairwise likeness, as ``rerank`` measures it (0 for a list under two items)."""
    n = len(vectors)
    if n < 2:
        return 0.0
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = np.where(norms > 1e-12, vectors / np.maximum(norms, 1e-12), 0.0)
    pairs = 0.5 * (unit @ unit.T) + 0.5 * ((categories[:, None] == categories[None, :]) & (categories[:, None] >= 0))
    return float(pairs[np.triu_indices(n, 1)].mean())
