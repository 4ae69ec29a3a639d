"""The item-kNN term appended to the ranking factors: it scores as item-kNN does, its weight and rank switch it
off, the text maps give it zeros, and the fit records what it appended."""

from dataclasses import replace

import numpy as np
import pytest

from app.trainer import neighbourhood
from app.trainer.fit import fit
from app.trainer.types import TrainData, TrainParams


def shop(n_users=300, n_items=40, seed=0, text_dim=8) -> TrainData:
    """Baskets from four planted groups of ten items, with some noise; text vectors for every item."""
    rng = np.random.default_rng(seed)
    users, items = [], []
    for u in range(n_users):
        group = u % 4
        for i in rng.choice(10, size=4, replace=False):
            users.append(u)
            items.append(group * 10 + i)
        users.append(u)
        items.append(int(rng.integers(n_items)))
    n = len(users)
    return TrainData(n_users, n_items, np.array(users), np.array(items), np.full(n, np.nan, np.float32),
                     np.ones(n, np.float32), item_text=rng.normal(size=(n_items, text_dim)).astype(np.float32),
                     item_has_text=np.ones(n_items, bool))


def exact_knn(data: TrainData) -> np.ndarray:
    x = np.zeros((data.n_users, data.n_items))
    x[data.users, data.items] = 1
    norms = np.sqrt(np.maximum(x.sum(0), 1))
    sim = (x.T @ x) / norms[:, None] / norms[None, :]
    np.fill_diagonal(sim, 0)
    return x @ sim


PARAMS = TrainParams(epochs=3, factors=8, device="cpu", select=False)  # the terms as given (choice: test_selection)


def test_the_appended_columns_score_as_item_knn_does():
    data = shop()
    f = fit(data, replace(PARAMS, objective="ranking", neighbourhood_rank=100))  # capped at n_items - 1
    assert f.terms["neighbourhood"] == {"rank": 39, "weight": 1.0}
    base = fit(data, replace(PARAMS, objective="ranking", neighbourhood_rank=0))
    np.testing.assert_allclose(f.item_factors[:, :8], base.item_factors, atol=1e-6)  # the factors untouched
    knn_part = f.user_factors[:, 8:] @ f.item_factors[:, 8:].T
    exact = exact_knn(data)
    for u in range(0, data.n_users, 37):
        unseen = ~np.isin(np.arange(data.n_items), data.items[data.users == u])  # the self-similarity aside
        assert np.corrcoef(knn_part[u, unseen], exact[u, unseen])[0, 1] > 0.98
        top = np.argsort(-exact[u, unseen])[:5]
        assert len(set(top) & set(np.argsort(-knn_part[u, unseen])[:5])) >= 4
    # A user of group 2 gets group 2's items first from the term.
    top = np.argsort(-knn_part[2])[:10]
    assert (top // 10 == 2).mean() >= 0.8


def test_weight_zero_or_rank_zero_leaves_the_factors_as_they_are():
    data = shop(seed=1)
    for change in ({"neighbourhood_weight": 0.0}, {"neighbourhood_rank": 0}):
        f = fit(data, replace(PARAMS, objective="ranking", **change))
        assert f.item_factors.shape == (data.n_items, 8) and f.user_factors.shape == (data.n_users, 8)


def test_items_known_only_by_text_get_zeros_in_the_term():
    data = shop(seed=2)
    f = fit(data, replace(PARAMS, objective="ranking", neighbourhood_rank=12))
    q, b = f.item_from_text(data.item_text[:3])
    assert q.shape == (3, 8 + 12) and np.isfinite(q).all() and np.isfinite(b).all()
    assert not q[:, 8:].any() and q[:, :8].any()


def test_the_weight_scales_the_term_against_each_users_factor_scores():
    data = shop(seed=3)
    base = fit(data, replace(PARAMS, objective="ranking", neighbourhood_rank=0))
    spreads = []
    for weight in (1.0, 2.0):
        f, info = neighbourhood.widen(data, base, replace(PARAMS, neighbourhood_rank=10, neighbourhood_weight=weight))
        assert info == {"rank": 10, "weight": weight}
        mf = np.hstack([base.user_factors, np.ones((data.n_users, 1))]) @ np.hstack(
            [base.item_factors, base.item_bias[:, None]]).T
        knn = f.user_factors[:, 8:] @ f.item_factors[:, 8:].T
        spreads.append(knn.std(1) / mf.std(1))
    np.testing.assert_allclose(spreads[0], 1.0, rtol=1e-3)
    np.testing.assert_allclose(spreads[1], 2.0, rtol=1e-3)


@pytest.mark.parametrize("users,items", [(1, 1), (2, 1), (1, 5)])
def test_too_small_for_a_rank_one_term(users, items):
    data = TrainData(users, items, np.zeros(1, np.int64), np.zeros(1, np.int64), np.full(1, np.nan, np.float32),
                     np.ones(1, np.float32))
    f = fit(data, replace(PARAMS, objective="ranking"))
    assert f.terms["neighbourhood"]["weight"] == 0.0 and f.item_factors.shape[1] == 8
