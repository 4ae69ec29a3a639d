"""Scoring over the served state, without the store: the top k eligible items by inner product (the version's
FAISS index, the items mapped in by text since, then stored items with no vector yet), the most popular
eligible items, and a user's vector fitted to their new events (the fold-in)."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from app.index.faiss_index import products
from app.recommender.state import State

log = logging.getLogger("semrec.recommender")
# At most this many eligible items are scored exactly instead of searched (20,000 x 65 floats: about 0.3 ms,
# under a filtered HNSW search that skips 80% of a 100,000-item graph).
EXACT_BELOW = 20_000


def search(state: State, index, fresh: np.ndarray, query: np.ndarray, eligible: np.ndarray, k: int,
           within: np.ndarray | None = None):
    """(positions, scores) of the top k eligible items by inner product: the version's FAISS index, or exactly
    over the eligible set where a filter leaves at most EXACT_BELOW items (cheaper than a filtered graph search
    that must walk past the rest) or HNSW comes up short; merged with the items mapped in by text since. k
    eligible items always give k results (those with no vector yet follow, most popular first). ``within``:
    sorted positions holding every eligible item, at most EXACT_BELOW (a narrow filter's kept rows,
    ``Filters.within``): the eligible ones are read from them rather than from a pass over every item."""
    model_eligible = eligible[:state.model.n_items]
    if within is not None:
        inside = within[: np.searchsorted(within, len(model_eligible))]
        candidates = inside[model_eligible[inside]]
        n_eligible = len(candidates)
    else:
        n_eligible = np.count_nonzero(model_eligible)  # a bool mask's count: a sixth of ``.sum()``'s time
        candidates = np.flatnonzero(model_eligible) if n_eligible <= EXACT_BELOW else None
    if candidates is None:  # most of the catalog: the index's (filtered) search
        scores, positions = index.search(query[None], k, model_eligible)
        keep = positions[0] >= 0
        scores, positions = scores[0][keep], positions[0][keep]
        if len(positions) < k and n_eligible > len(positions):
            candidates = np.flatnonzero(model_eligible)
    if candidates is not None:  # a narrow filter, or the index came up short: every eligible item, exactly
        candidates, exact = index.score_rows(candidates, query)
        top = largest(exact, min(k, len(exact)))
        top = top[np.lexsort((candidates[top], -exact[top]))]  # ties by position, whatever order they came in
        scores, positions = exact[top], candidates[top]
    if len(state.fresh_positions):
        ok = eligible[state.fresh_positions]
        scores = np.concatenate([scores, fresh[ok] @ query])
        positions = np.concatenate([positions, state.fresh_positions[ok]])
    order = np.argsort(-scores, kind="stable")[:k]
    positions, scores = positions[order], scores[order]
    if len(positions) < k:  # eligible items with no vector yet (new, not yet embedded): popular ones after
        rest = eligible.copy()
        rest[positions] = False
        more, _ = popular(state, rest, k - len(positions))
        below = (float(scores[-1]) if len(scores) else 0.0) - 1.0 - np.arange(len(more)) / max(1, len(more))
        positions, scores = np.concatenate([positions, more]), np.concatenate([scores, below])
    return positions, scores


def item_vector(state: State, pos: int | None) -> np.ndarray | None:
    """The served ``[q_i, b_i]`` of a catalog position: the version's, or the text map's for an item stored since;
    None for an item with neither."""
    if pos is None:
        return None
    if state.model is not None and pos < state.model.n_items:
        return state.model.item_vectors[pos]
    row = state.fresh_rows.get(pos)
    return None if row is None else state.fresh_vectors[row]


def vectors_of(state: State, positions: np.ndarray) -> np.ndarray:
    """The served factor vectors (without the bias) of catalog positions: zero rows for items with none, and
    for every item before any model."""
    if state.model is None:
        return np.zeros((len(positions), 1), np.float32)
    out = np.zeros((len(positions), state.model.item_vectors.shape[1] - 1), np.float32)
    for n, pos in enumerate(positions.tolist()):
        v = item_vector(state, pos)
        if v is not None:
            out[n] = v[:-1]
    return out


def largest(scores: np.ndarray, n: int, stride: int = 32, spare: int = 8) -> np.ndarray:
    """Positions of the ``n`` largest ``scores``, in no order: ``np.argpartition`` over the whole array, but
    usually on a few hundred entries. A threshold from every ``stride``-th score (its ``n / stride + spare``-th
    largest) leaves about ``n + spare * stride`` entries above it; when at least ``n`` are, the ``n`` largest
    are among them, otherwise the whole array is partitioned. A 100k-item partition took 1.2 ms; this 0.1 ms."""
    if len(scores) <= n:
        return np.arange(len(scores))
    sample = scores[::stride]
    j = min(len(sample), n // stride + spare)
    threshold = np.partition(sample, len(sample) - j)[len(sample) - j]
    above = np.flatnonzero(scores >= threshold)
    pool = above if len(above) >= n else np.arange(len(scores))
    if len(pool) == n:
        return pool
    return pool[np.argpartition(scores[pool], len(pool) - n)[len(pool) - n:]]


def popular(state: State, eligible: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k eligible items with the most events (ties: catalog order)."""
    candidates = best(np.flatnonzero(eligible), state.popularity, k)
    return candidates, state.popularity[candidates].astype(np.float64)


def best(candidates: np.ndarray, values: np.ndarray, k: int) -> np.ndarray:
    """The k ``candidates`` (positions, ascending) with the largest ``values[candidate]``, best first, ties by
    position: the k-th largest value found first (``largest``: a partition of a sample, then of the few above
    it), so only the k are sorted, not every candidate."""
    if k <= 0:
        return candidates[:0]
    v = values[candidates]
    if len(candidates) > 4 * k:
        kth = v[largest(v, k)].min()
        above = np.flatnonzero(v > kth)
        keep = np.concatenate([above, np.flatnonzero(v == kth)[: k - len(above)]])
        candidates, v = candidates[keep], v[keep]
    return candidates[np.lexsort((candidates, -v))[:k]]


def softmax_fold_in(prior: np.ndarray, q: np.ndarray, b: np.ndarray, w: np.ndarray, cq: np.ndarray, cb: np.ndarray,
                    lam: float) -> np.ndarray:
    """argmin_p  Σ w_i [logsumexp(C p + c) - (q_i·p + b_i)] + λ/2 ||p - prior||², the training objective for
    one user with the items fixed; ``cq``, ``cb``: the normaliser's items (``ServingModel.fold_in_items``)."""
    from scipy.optimize import minimize

    def loss(p):
        logits = cq @ p + cb
        top = logits.max()
        e = np.exp(logits - top)
        z = e.sum()
        pos = q @ p + b
        value = (top + np.log(z)) - w @ pos + 0.5 * lam * ((p - prior) ** 2).sum()
        grad = cq.T @ (e / z) - q.T @ w + lam * (p - prior)
        return value, grad

    return minimize(loss, prior, jac=True, method="L-BFGS-B", options={"maxiter": 30}).x


def model_scores(state: State, query: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Model scores of catalog positions; an item with no vector at all ranks below every other."""
    model = state.model
    scores = np.full(len(positions), model.floor_score, dtype=np.float64)
    in_model = positions < model.n_items
    scores[in_model] = products(model.item_vectors, positions[in_model], query)
    for n in np.flatnonzero(~in_model):
        row = state.fresh_rows.get(int(positions[n]))
        if row is not None:
            scores[n] = state.fresh_vectors[row] @ query
    return scores


def listed(state: State, positions: np.ndarray, scores: np.ndarray) -> list[dict[str, Any]]:
    """The answer's items: id, finite score, title."""
    cat = state.catalog
    scores = np.asarray(scores, np.float64)
    if not np.isfinite(scores).all():  # a promise of the API: say so loudly, answer with finite numbers
        log.error("non-finite scores for model version %s", state.model.version if state.model else None)
        scores = np.nan_to_num(scores, nan=-1e9, posinf=1e9, neginf=-1e9)
    return [{"item_id": cat.item_ids[p], "score": round(float(s), 6), "title": cat.titles[p]}
            for p, s in zip(positions.tolist(), scores.tolist(), strict=True)]
