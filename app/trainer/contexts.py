"""A version's context model (``app.context``): its lifts fit on every event, each feature's weight chosen on
the next-items carve (``app.context.choice``) from a context model fit on the validation fit's events alone,
so no held-out event's context reaches the lifts it is scored with.

    hook = chooser(loaded, data, prior, incumbent)      # handed to fit(): called with the carve
    model = fit_served(loaded, data, prior, report)     # the version's, with the chosen weights
"""

from __future__ import annotations

import numpy as np

from app import context
from app.context import choice
from app.context.model import ContextModel, EventContexts
from app.trainer import terms
from app.trainer.carve import Carve
from app.trainer.types import Factors, TrainData

MAX_EVENTS = 5_000  # held-out events scored
WARM_TERMS = ("neighbourhood", "lexical", "popularity")  # the terms that score items with events
CHUNK_SCORES = 4_000_000


def _rows(events: EventContexts, rows: np.ndarray) -> EventContexts:
    return EventContexts(events.items[rows], events.seconds[rows], events.device[rows], events.location[rows])


def chooser(loaded, data: TrainData, prior: float, incumbent: float):
    """fit()'s ``on_validated`` hook: the per-feature weights on the carve's next-items events (None without
    event contexts or a feature with two values)."""
    events = loaded.contexts
    if events is None:
        return None

    def choose(c: Carve, validated: Factors, _shown: TrainData) -> dict | None:
        if not len(c.next_rows):
            return None
        model = context.fit(_rows(events, c.fit_rows), data.n_items, loaded.item_categories, prior)
        if model is None:
            return None
        held = c.next_rows
        if len(held) > MAX_EVENTS:
            held = np.sort(np.random.default_rng(0).choice(held, MAX_EVENTS, replace=False))
        x = terms.binary(data, c.fit_rows)
        size = max(1, CHUNK_SCORES // max(data.n_items, 1))
        pools, bases = [], []
        for start in range(0, len(held), size):
            users = data.users[held[start: start + size]]
            scores = validated.user_factors[users] @ validated.item_factors.T + validated.item_bias
            pool, base = choice.pooled(scores, x[users].toarray() > 0)
            pools.append(pool)
            bases.append(base)
        values = {f: v[held] for f, v in events.values().items()}
        return choice.choose(model, np.concatenate(pools), np.concatenate(bases), data.items[held], values,
                             model.columns_of(loaded.item_categories), incumbent, data.n_items)
    return choose


def fit_served(loaded, data: TrainData, prior: float, report: dict | None, terms: dict | None = None
               ) -> ContextModel | None:
    """The version's context model over every event, with the weights chosen on the carve where there was
    one (None: the settings' one weight for every feature). The weights were chosen on the factors' logits;
    the served scores add the terms (``terms``: the version's), each on the spread of those logits times its
    weight, so a lift is scaled by as much to move a list as far as it did on the carve."""
    model = context.fit(loaded.contexts, data.n_items, loaded.item_categories, prior)
    if model is not None and report:
        model.weights = {f: float(w) for f, w in report["weights"].items()}
        model.logit_scale = 1.0 + sum(float(t.get("weight", 0.0)) for name, t in (terms or {}).items()
                                      if name in WARM_TERMS and t.get("rank"))
    return model
