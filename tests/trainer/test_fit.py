"""``fit`` at every size: degenerate stores train to finite factors; a run-away fit is refused; auto plans
the ranking fit to serve and a rater beside it."""

import numpy as np
import pytest

from app.trainer.fit import fit
from app.trainer.types import TrainData, TrainingDiverged, TrainParams, objectives, ranking_weights
from tests.trainer.test_model import data_for, planted


def store(n_users, n_items, events, item_text=(), user_text=(), d=8, same_text=False):
    """``events``: (user, item, rating or None); text vectors for the listed item and user indexes."""
    rng = np.random.default_rng(0)

    def text(n, which):
        if not len(which):
            return None, None
        has = np.zeros(n, bool)
        has[list(which)] = True
        vectors = np.ones((n, d), np.float32) if same_text else rng.normal(size=(n, d)).astype(np.float32)
        vectors[~has] = 0
        return vectors, has

    users, items, ratings = zip(*events, strict=True)
    return TrainData(n_users, n_items, np.array(users, np.int64), np.array(items, np.int64),
                     np.array([np.nan if r is None else r for r in ratings], np.float32),
                     np.ones(len(events), np.float32), *text(n_items, item_text), *text(n_users, user_text))


SHAPES = {
    "one user, one item, one rating": store(1, 1, [(0, 0, 5)]),
    "a single implicit event": store(1, 1, [(0, 0, None)]),
    "every rating equal": store(3, 3, [(0, 0, 4), (1, 1, 4), (2, 2, 4), (0, 1, 4)]),
    # the README walk-through once u-43 is erased: u-42 (profile text) rated sku-1; sku-1, sku-2 have text
    "README walk-through": store(1, 2, [(0, 0, 5)], item_text=[0, 1], user_text=[0]),
    "items without text": store(2, 3, [(0, 0, 3), (1, 1, None), (1, 2, 1)]),
    "exactly one item with text": store(2, 3, [(0, 0, None), (1, 1, 3), (1, 2, None)], item_text=[1]),
    "users without events": store(4, 2, [(0, 0, None), (1, 1, 2)], user_text=[0, 1, 2, 3]),
    "two items, two users": store(2, 2, [(0, 0, 5), (1, 1, 1)], item_text=[0, 1], user_text=[0, 1]),
    "all texts alike": store(2, 2, [(0, 1, None), (1, 0, 2)], item_text=[0, 1], same_text=True),
    "30 events, 2 items": store(10, 2, [(u % 10, u % 2, None) for u in range(30)]),  # validation, 2 < top-20
}


def finite_arrays(f):
    arrays = f.arrays()
    assert {"user_factors", "user_bias", "item_factors", "item_bias"} <= set(arrays)
    for name, a in arrays.items():
        assert np.isfinite(a).all(), name
    assert np.isfinite(f.mu)


@pytest.mark.parametrize("init", ["semantic", "random"])
@pytest.mark.parametrize("shape", list(SHAPES))
def test_degenerate_stores_train_to_finite_factors(shape, init):
    data = SHAPES[shape]
    for objective in objectives(data, "auto"):
        f = fit(data, TrainParams(objective=objective, epochs=6, burn_in=2, factors=4, init=init))
        assert f.objective == objective and f.history
        finite_arrays(f)
        width = 4 + sum(t["rank"] for t in f.terms.values() if t["weight"])  # the appended terms
        assert f.item_factors.shape == (data.n_items, width) and f.user_factors.shape == (data.n_users, width)
        for record in f.history:
            assert all(np.isfinite(v) for v in record.values() if isinstance(v, float)), record
        for user in (0, None):
            predicted = f.predicted_rating(user, np.arange(data.n_items))
            assert np.isfinite(predicted).all() and (predicted >= 1).all() and (predicted <= 5).all()


def test_auto_plans_the_ranking_fit_and_a_rater_when_there_are_ratings():
    rated, implicit = SHAPES["items without text"], SHAPES["a single implicit event"]
    assert objectives(rated, "auto") == ["ranking", "rating"]
    assert objectives(implicit, "auto") == ["ranking"]
    assert objectives(rated, "ranking") == ["ranking"] and objectives(rated, "rating") == ["rating"]
    assert fit(rated, TrainParams(epochs=2, factors=4)).objective == "ranking"  # auto serves ranking factors


def test_a_rating_weighs_by_its_value_in_the_ranking_objective():
    data = store(1, 3, [(0, 0, 5), (0, 1, 1), (0, 2, None)])
    data.weights[:] = [4.0, 4.0, 2.0]
    w = ranking_weights(data, TrainParams(rating_offset=0.0))
    np.testing.assert_allclose(w, [4.0, 0.8, 2.0])  # value / 5 of the rating weight; a click keeps its own
    default = ranking_weights(data, TrainParams())  # (value + 20) / 25
    np.testing.assert_allclose(default, [4.0, 4.0 * 21 / 25, 2.0], rtol=1e-6)


def test_the_rater_predicts_held_out_ratings():
    """P1-style: train on 80% of planted ratings, RMSE on the rest well below the global mean's."""
    true, users, items, ratings, text, _ = planted(n_users=120, n_items=80, density=0.2)
    test = np.random.default_rng(1).random(len(users)) < 0.2
    data = data_for(users[~test], items[~test], ratings[~test], *true.shape, text=text)
    f = fit(data, TrainParams(objective=objectives(data, "auto")[1], factors=8, epochs=80))
    predicted = np.array([f.predicted_rating(int(u), np.array([i]))[0]
                          for u, i in zip(users[test], items[test], strict=True)])
    rmse = np.sqrt(np.mean((predicted - ratings[test]) ** 2))
    baseline = np.sqrt(np.mean((ratings[~test].mean() - ratings[test]) ** 2))
    assert rmse < 0.6 * baseline and rmse < 0.5


@pytest.mark.parametrize("objective", ["ranking", "rating"])
def test_a_run_away_fit_is_refused(objective):
    true, users, items, ratings, text, _ = planted(n_users=40, n_items=30, density=0.3)
    data = data_for(users, items, ratings, *true.shape, text=text)
    with pytest.raises(TrainingDiverged, match="training diverged"):
        fit(data, TrainParams(objective=objective, solver="adam", lr=1e6, epochs=5, factors=4))
    with pytest.raises(TrainingDiverged, match="training diverged"):  # one epoch, one batch: caught on export
        fit(data, TrainParams(objective=objective, solver="adam", lr=1e6, epochs=1, factors=4, batch_size=10**6))
