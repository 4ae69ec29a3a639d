"""The low-rank EASE term: where the rank holds the whole row space of X it is EASE itself (Steck 2019), and
as a term it is served by the factors' inner product."""

import numpy as np
from scipy.sparse import csr_matrix

from app.trainer import ease, terms
from app.trainer.fit import fit
from app.trainer.types import TrainData, TrainParams


def exact_ease(x: np.ndarray, lam: float) -> np.ndarray:
    p = np.linalg.inv(x.T @ x + lam * np.eye(x.shape[1]))
    b = p / (-np.diag(p))
    np.fill_diagonal(b, 0.0)
    return x @ b


def test_at_the_rank_of_x_the_term_scores_unseen_items_as_exact_ease():
    rng = np.random.default_rng(0)
    base = (rng.random((120, 25)) < 0.2).astype(np.float64)
    x = np.hstack([base, base[:, :15]])  # 40 items, rank at most 25
    v, s = ease.spectrum(csr_matrix(x), 30, seed=0)
    for lam in (5.0, 50.0):
        user_side, item_side = ease.sides(csr_matrix(x), v, s, lam)
        low, exact = user_side @ item_side.T, exact_ease(x, lam)
        unseen = x == 0
        np.testing.assert_allclose(low[unseen], exact[unseen], rtol=1e-4, atol=1e-6)


def test_a_served_ease_term_is_appended_with_its_weight_and_lambda():
    rng = np.random.default_rng(1)
    users = np.repeat(np.arange(300), 10)
    items = rng.integers(0, 60, len(users))
    data = TrainData(300, 60, users, items, np.full(len(users), np.nan, np.float32), np.ones(len(users), np.float32))
    params = TrainParams(objective="ranking", select=False, epochs=3, factors=8, neighbourhood_rank=16,
                         neighbourhood_weight=0.0, ease_weight=1.0, ease_lambda=50.0)
    f = fit(data, params)
    assert f.terms["ease"] == {"rank": 16, "weight": 1.0, "lambda": 50.0}
    assert f.item_factors.shape[1] == 8 + 16 and f.appended_width == 16
    # The appended columns rank as EASE's low-rank scores do, user by user.
    x = terms.binary(data)
    user_side, item_side = ease.sides(x, *ease.spectrum(x, 16, 0), 50.0)
    served = f.user_factors[:, 8:] @ f.item_factors[:, 8:].T
    expected = user_side @ item_side.T
    for u in range(0, 300, 37):
        assert np.corrcoef(served[u], expected[u])[0, 1] > 0.999
