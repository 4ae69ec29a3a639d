"""A popularity term next to the factors: one column, the log of each item's event count on the item side and
the weight, scaled to the spread of the user's factor scores, on the user side. Where a shop's next events
mostly go to its best sellers, ``app.trainer.selection`` gives it weight; by default (0) nothing is appended.

    factors, info = widen(data, factors, params, base)
"""

from __future__ import annotations

import numpy as np

from app.trainer import terms
from app.trainer.types import Factors, TrainData, TrainParams


def widen(data: TrainData, factors: Factors, p: TrainParams, base: Factors) -> tuple[Factors, dict]:
    info = {"rank": 0, "weight": 0.0}
    if p.popularity_weight <= 0 or not len(data.items):
        return factors, info
    pop = np.log1p(np.bincount(data.items, minlength=data.n_items)).astype(np.float64)[:, None]
    users = np.arange(data.n_users)
    user_side = np.ones((data.n_users, 1))
    user_side *= (p.popularity_weight * terms.scales(base, users, user_side, pop,
                                                     terms.sample_items(data.n_items)))[:, None]
    return (terms.appended(factors, user_side.astype(np.float32), pop.astype(np.float32)),
            {"rank": 1, "weight": float(p.popularity_weight)})
