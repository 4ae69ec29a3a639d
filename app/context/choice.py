"""Each context feature's weight, chosen on the shop's own held-out events: a feature (hour, weekday, month,
device, location) that predicts what the held-out events went to gets the weight that scores best there; one
that does not gets none. One constant for every feature cannot tell a strong feature from a weak one.

The training job hands over the held-out events (each with its user's scores from the validation fit, its
item and its context) and a context model fit on the other events. Each feature on its own (a request may
carry any subset of them; at serving their log lifts add, as naive Bayes) takes the weight of ``GRID`` that
raises recall@20 most over no context, kept only if that gain is more than ``MARGIN`` standard errors of the
paired difference: a feature earns its weight.

    pool, base = pooled(scores, seen)              # per chunk of held-out events
    report = choose(model, pool, base, truth, values, columns, incumbent, n_items)
    report["weights"]   # {"device": 1.0, "hour": 0.0, ...}: ContextModel.weights
"""

from __future__ import annotations

import math

import numpy as np

from app.context.model import ContextModel

GRID = (0.25, 0.5, 1.0, 2.0)
MARGIN = 0.5
POOL = 200  # each event's items by its user's scores: a lift moves an item within them, rarely from further
K = 20  # or a fifth of the catalog, on small ones (as app.trainer.selection.top_k)


def pooled(scores: np.ndarray, seen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(pool, their scores) of a chunk of held-out events: ``scores`` (events, items) from the validation fit
    for each event's user, ``seen`` True where the user had the item in the fit's events (-inf there)."""
    scores = np.where(seen, -np.inf, scores.astype(np.float64))
    take = min(POOL, scores.shape[1])
    pool = np.argpartition(-scores, take - 1, axis=1)[:, :take]
    return pool, np.take_along_axis(scores, pool, 1)


def choose(model: ContextModel, pool: np.ndarray, base: np.ndarray, truth: np.ndarray,
           values: dict[str, np.ndarray], columns: np.ndarray | None, incumbent: float, n_items: int) -> dict:
    """``pool``, ``base``: each held-out event's pooled items and their scores (``pooled``); ``truth``: each
    event's item; ``values``: feature -> each event's value (None where the event has none); ``columns``:
    each item's category column in ``model`` (``ContextModel.columns_of``); ``incumbent``: the one weight of
    every feature where nothing is chosen (settings), reported beside the choice; ``n_items``: the catalog
    ranked."""
    valid = np.isfinite(base)
    base = np.where(valid, base, 0.0)
    relevant = valid & (pool == truth[:, None])
    features = [f for f in values if any(model.applies({f: v}) for v in set(values[f].tolist()) if v is not None)]
    lifts = {f: _lifts(model, f, values[f], pool, columns) for f in features}

    k = max(1, min(K, n_items // 5))

    def recall(weights: dict[str, float]) -> np.ndarray:
        s = base + sum((w * lifts[f] for f, w in weights.items() if w), np.zeros_like(base))
        s[~valid] = -np.inf
        top = np.argpartition(-s, min(k, s.shape[1]) - 1, axis=1)[:, :k]
        return np.take_along_axis(relevant, top, 1).any(1).astype(np.float64)

    none = recall({})
    chosen = dict.fromkeys(features, 0.0)
    for f in features:  # each feature on its own: a request may carry any subset of them
        best = none
        for w in GRID:
            got = recall({f: w})
            diff = got - best
            se = float(diff.std(ddof=1) / math.sqrt(len(diff))) if len(diff) > 1 else math.inf
            if diff.mean() > MARGIN * se and diff.mean() > 0:
                chosen[f], best = w, got
    best = recall(chosen)
    name = ", ".join(f"{f}={w:g}" for f, w in chosen.items() if w) or "none"
    figures = {"none": round(float(none.mean()), 5),
               f"every feature at {incumbent:g}": round(float(recall(dict.fromkeys(features, incumbent)).mean()), 5),
               name: round(float(best.mean()), 5)}
    return {"weights": chosen, "chosen": name, "candidates": figures, "served": figures[name],
            "events": int(len(truth)), "metric": f"recall@{k}"}


def _lifts(model: ContextModel, feature: str, per_event: np.ndarray, pool: np.ndarray,
           columns: np.ndarray | None) -> np.ndarray:
    """(events, pool) log lift of each pooled item at the event's value of ``feature`` (0 without one)."""
    out = np.zeros(pool.shape)
    for value in {v for v in per_event.tolist() if v is not None}:
        rows = np.flatnonzero(per_event == value)
        items = pool[rows].ravel()
        out[rows] = model.lift(items, feature, str(value), None if columns is None else columns[items]).reshape(
            len(rows), -1)
    return out
