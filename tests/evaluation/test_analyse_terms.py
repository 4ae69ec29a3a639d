"""scripts/analyse_terms.py's grid on held-out events: the kNN term it scores is built without them, and where
co-occurrence is the whole signal a positive weight beats the factors alone."""

import numpy as np

from app.trainer.types import Factors, TrainData
from scripts import analyse_terms


def groups(n_users=200, n_items=40, seed=0) -> TrainData:
    """Each user has 5 items of one of four groups of ten: the last is the held-out one."""
    rng = np.random.default_rng(seed)
    users, items = [], []
    for u in range(n_users):
        for i in rng.choice(10, size=5, replace=False):
            users.append(u)
            items.append((u % 4) * 10 + int(i))
    n = len(users)
    return TrainData(n_users, n_items, np.array(users), np.array(items), np.full(n, np.nan, np.float32),
                     np.ones(n, np.float32))


def test_the_grid_prefers_the_term_where_co_occurrence_is_the_signal():
    script = analyse_terms
    data = groups()
    rng = np.random.default_rng(1)
    # Factors that know nothing: small random scores, the same spread for every user.
    f = Factors("ranking", 0.0, rng.normal(size=(data.n_users, 4)).astype(np.float32) * 0.1,
                np.zeros(data.n_users, np.float32), rng.normal(size=(data.n_items, 4)).astype(np.float32) * 0.1,
                np.zeros(data.n_items, np.float32), None, None, None, None)
    held = np.arange(4, len(data.users), 5)[::2]  # every other user's last event
    n, figures = script.knn_grid(data, f, held, [0.0, 1.0, 4.0], seed=0, rank=16)
    assert n == len(held)
    assert figures[0.0] < 0.3 < figures[1.0] <= figures[4.0] + 1e-9
