"""The context model: for each context feature value (hour 0-23, weekday 0-6 with Monday 0, month 1-12, each
device, each location), the log lift of every category and of every item with evidence of its own.

    n_iv ~ Poisson(E_iv · λ_iv),  E_iv = n_i · n_v / N  (the item's events at value v if context did not matter)
    λ_cv = (n_cv + a) / (E_cv + a)                   a category, shrunk toward 1 (no effect)
    λ_iv = λ_cv · (n_iv + a) / (E_iv · λ_cv + a)     an item, shrunk toward its category

``a`` (``SEMREC_CONTEXT_PRIOR``) is the prior's weight in events: below it, the data barely moves a lift.
Times are UTC (the store keeps UTC): a shop in one time zone sees its own hours shifted, consistently.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

FEATURES = ("hour", "weekday", "month", "device", "location")
MAX_VALUES = 64  # per feature, the most frequent ones: a long tail of locations says little each
MIN_LOG_LIFT = 0.01  # an item's own deviation from its category below this is not kept
PREFIX = "context_"  # the arrays' names in a version's .npz


@dataclass
class EventContexts:
    """The training events' context, aligned with their item indexes: UTC seconds, device and location
    (object arrays, None where not given)."""

    items: np.ndarray  # int64 (n,)
    seconds: np.ndarray  # int64 (n,)
    device: np.ndarray  # object (n,)
    location: np.ndarray  # object (n,)

    def values(self) -> dict[str, np.ndarray]:
        """Each feature's value per event, as strings (None where the event has none)."""
        return {**_time_values(self.seconds), "device": self.device, "location": self.location}


def _time_values(seconds: np.ndarray) -> dict[str, np.ndarray]:
    """Hour, weekday (Monday 0) and month of UTC seconds, as strings: the one rule for events and requests."""
    months = seconds.astype("datetime64[s]").astype("datetime64[M]").astype(np.int64) % 12 + 1
    return {"hour": ((seconds // 3600) % 24).astype(str).astype(object),
            "weekday": (((seconds // 86400) + 3) % 7).astype(str).astype(object),  # 1970-01-01 was a Thursday
            "month": months.astype(str).astype(object)}


def features(timestamp: datetime | None = None, location: str | None = None, device: str | None = None
             ) -> dict[str, str]:
    """A request's context as feature values (a timestamp is taken in UTC)."""
    out: dict[str, str] = {}
    if timestamp is not None:
        seconds = np.array([int(timestamp.timestamp())], np.int64)
        out |= {name: str(v[0]) for name, v in _time_values(seconds).items()}
    if device:
        out["device"] = device
    if location:
        out["location"] = location
    return out


@dataclass
class ContextModel:
    rows: list[tuple[str, str]]  # (feature, value) of each row
    categories: list[str]
    category_lift: np.ndarray  # float32 (rows, categories): log λ_cv
    indptr: np.ndarray  # CSR over rows: items with a deviation of their own
    items: np.ndarray  # int32 model positions, sorted within a row
    item_lift: np.ndarray  # float32: log(λ_iv / λ_cv)
    weights: dict[str, float] | None = None  # per feature, chosen on the shop's own events (choice.py); None: one
    logit_scale: float = 1.0  # served logits / the factors' logits the weights were chosen on (the terms' share)
    _row_of: dict = field(default_factory=dict, repr=False)
    _codes: tuple = field(default=(None, None), repr=False)  # (catalog categories, code -> column)

    def __post_init__(self) -> None:
        self._row_of = {key: n for n, key in enumerate(self.rows)}

    def applies(self, values: dict[str, str]) -> bool:
        return any((f, v) in self._row_of for f, v in values.items())

    def known(self, values: dict[str, str]) -> dict[str, str]:
        """The values the store showed, of features with a weight (the rest change nothing)."""
        return {f: v for f, v in values.items() if (f, v) in self._row_of
                and (self.weights is None or self.weights.get(f, 0.0) > 0)}

    def feature_weight(self, feature: str, weight: float) -> float:
        """A feature's weight: the one chosen for it on the shop's held-out events, else ``weight`` (settings)."""
        return weight if self.weights is None else self.weights.get(feature, 0.0)

    def log_lift(self, catalog, positions: np.ndarray, values: dict[str, str], weight: float = 1.0) -> np.ndarray:
        """Σ over the known feature values of each catalog position's log lift (0 where nothing is known),
        each feature's times its weight (``feature_weight``)."""
        positions = np.asarray(positions, np.int64)
        columns = self._columns(catalog)[catalog.category_codes[positions] + 1] if self.categories else None
        out = np.zeros(len(positions))
        for f, v in values.items():
            w = self.feature_weight(f, weight)
            if w:
                out += w * self.lift(positions, f, v, columns)
        return out

    def lift(self, positions: np.ndarray, feature: str, value: str, columns: np.ndarray | None) -> np.ndarray:
        """One feature value's log lift of each position (``columns``: each one's column of category_lift,
        -1 for none; None without categories)."""
        out = np.zeros(len(positions))
        row = self._row_of.get((feature, value))
        if row is None:
            return out
        if columns is not None:
            has = columns >= 0
            out[has] += self.category_lift[row, columns[has]]
        lo, hi = self.indptr[row], self.indptr[row + 1]
        if hi > lo:
            items = self.items[lo:hi]
            j = np.minimum(np.searchsorted(items, positions), hi - lo - 1)
            hit = items[j] == positions
            out[hit] += self.item_lift[lo + j[hit]]
        return out

    def columns_of(self, item_categories: list[str | None]) -> np.ndarray | None:
        """Each model item's column of category_lift (-1 for none), from the training's item categories."""
        if not self.categories:
            return None
        index = {name: n for n, name in enumerate(self.categories)}
        return np.array([index.get(c, -1) if c is not None else -1 for c in item_categories], np.int64)

    def _columns(self, catalog) -> np.ndarray:
        """Catalog category code + 1 -> column of ``category_lift`` (-1: none), cached per catalog mapping."""
        cats, columns = self._codes
        if cats is not catalog.categories:
            index = {name: n for n, name in enumerate(self.categories)}
            columns = np.full(len(catalog.categories) + 1, -1, np.int64)
            for name, code in catalog.categories.items():
                columns[code + 1] = index.get(name, -1)
            self._codes = (catalog.categories, columns)
        return columns

    def rerank(self, catalog, positions: np.ndarray, scores: np.ndarray, kind: str, values: dict[str, str],
               weight: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """Scores moved by the context, best first. ``kind`` says what the scores are, so that the lift
        multiplies a probability: ``logit`` (+ log lift), ``count`` (× lift), ``mixture`` (the few-event
        order: 1 + p for items similar users had, p × lift; a squashed logit below, + log lift)."""
        adjust = self.log_lift(catalog, positions, values, weight)
        scores = np.asarray(scores, np.float64)
        if kind == "logit":
            moved = scores + self.logit_scale * adjust
        elif kind == "count":
            moved = scores * np.exp(adjust)
        else:
            had = scores > 1.0
            logit = np.log(np.clip(scores, 1e-12, 1 - 1e-12)) - np.log1p(-np.clip(scores, 1e-12, 1 - 1e-12))
            moved = np.where(had, 1.0 + (scores - 1.0) * np.exp(adjust), 1.0 / (1.0 + np.exp(-(logit + adjust))))
        order = np.argsort(-moved, kind="stable")
        return np.asarray(positions)[order], moved[order]

    # ------------------------------------------------------------ storage

    def arrays(self) -> dict[str, np.ndarray]:
        meta = {"rows": self.rows, "categories": self.categories, "weights": self.weights,
                "logit_scale": self.logit_scale}
        return {PREFIX + "meta": np.array(json.dumps(meta)), PREFIX + "category_lift": self.category_lift,
                PREFIX + "indptr": self.indptr, PREFIX + "items": self.items, PREFIX + "item_lift": self.item_lift}

    @classmethod
    def from_arrays(cls, z) -> ContextModel | None:
        if PREFIX + "meta" not in z.files:
            return None  # a version trained before context, or on events without any
        meta = json.loads(str(z[PREFIX + "meta"]))
        return cls([tuple(r) for r in meta["rows"]], meta["categories"], z[PREFIX + "category_lift"],
                   z[PREFIX + "indptr"], z[PREFIX + "items"], z[PREFIX + "item_lift"], meta.get("weights"),
                   meta.get("logit_scale", 1.0))


def fit(events: EventContexts, n_items: int, item_categories: list[str | None], prior: float = 100.0
        ) -> ContextModel | None:
    """The lifts of every feature with at least two values among the events; None if no feature has."""
    categories = sorted({c for c in item_categories if c is not None})
    cat_index = {c: n for n, c in enumerate(categories)}
    item_cat = np.array([cat_index.get(c, -1) if c is not None else -1 for c in item_categories], np.int64)
    rows, cat_rows, indptr, kept_items, kept_lift = [], [], [0], [], []
    for name, per_event in events.values().items():
        present = np.array([v is not None for v in per_event], bool) if per_event.dtype == object else \
            np.ones(len(per_event), bool)
        if present.sum() == 0:
            continue
        values, codes = np.unique(per_event[present].astype(str), return_inverse=True)
        if len(values) < 2:
            continue  # one value everywhere (Amazon's review dates have no hour): nothing to learn
        items = events.items[present]
        total = float(len(items))
        n_v = np.bincount(codes, minlength=len(values)).astype(np.float64)
        n_i = np.bincount(items, minlength=n_items).astype(np.float64)
        top = np.argsort(-n_v, kind="stable")[:MAX_VALUES]
        n_c = np.bincount(item_cat[item_cat >= 0], weights=n_i[item_cat >= 0], minlength=len(categories))
        for v in top:
            mask = codes == v
            n_iv = np.bincount(items[mask], minlength=n_items).astype(np.float64)
            share = n_v[v] / total
            if categories:
                cat_of = item_cat[items[mask]]
                n_cv = np.bincount(cat_of[cat_of >= 0], minlength=len(categories)).astype(np.float64)
                lam_c = (n_cv + prior) / (n_c * share + prior)
            else:
                lam_c = np.ones(0)
            lam_c_item = np.where(item_cat >= 0, lam_c[np.maximum(item_cat, 0)] if categories else 1.0, 1.0)
            expected = n_i * share * lam_c_item
            ratio = np.log((n_iv + prior) / (expected + prior))
            keep = np.flatnonzero(np.abs(ratio) >= MIN_LOG_LIFT)
            rows.append((name, str(values[v])))
            cat_rows.append(np.log(lam_c).astype(np.float32))
            kept_items.append(keep.astype(np.int32))
            kept_lift.append(ratio[keep].astype(np.float32))
            indptr.append(indptr[-1] + len(keep))
    if not rows:
        return None
    return ContextModel(rows, categories, np.array(cat_rows, np.float32).reshape(len(rows), len(categories)),
                        np.array(indptr, np.int64), np.concatenate(kept_items), np.concatenate(kept_lift))
