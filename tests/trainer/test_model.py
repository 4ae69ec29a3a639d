"""The trainer on synthetic data with planted structure: what it must recover, and what text buys."""

import numpy as np
import pytest

from app.trainer.fit import fit
from app.trainer.types import GIBBS_MAX_ROWS, TrainData, TrainParams


def planted(n_users=300, n_items=200, k=4, density=0.15, noise=0.2, text_dim=32, seed=0):
    """Ratings from true factors; item text vectors are a noisy random projection of the true item factors."""
    rng = np.random.default_rng(seed)
    P, Q = rng.normal(0, 0.6, (n_users, k)), rng.normal(0, 0.6, (n_items, k))
    bu, bi = rng.normal(0, 0.3, n_users), rng.normal(0, 0.3, n_items)
    true = 3.2 + bu[:, None] + bi[None, :] + P @ Q.T
    mask = rng.random((n_users, n_items)) < density
    users, items = np.nonzero(mask)
    ratings = np.clip(true[users, items] + rng.normal(0, noise, len(users)), 1, 5).astype(np.float32)
    proj = rng.normal(0, 1, (k + 1, text_dim))
    text = np.c_[Q, bi] @ proj + rng.normal(0, 0.05, (n_items, text_dim))
    text /= np.linalg.norm(text, axis=1, keepdims=True)
    return true, users, items, ratings, text.astype(np.float32), mask


def data_for(users, items, ratings, n_users, n_items, text=None):
    has = None if text is None else np.ones(n_items, bool)
    return TrainData(n_users, n_items, users.astype(np.int64), items.astype(np.int64), ratings,
                     np.ones(len(users), np.float32), item_text=text, item_has_text=has)


SOLVERS = pytest.mark.parametrize("solver", ["gibbs", "adam"])


@SOLVERS
def test_planted_factors_are_recovered(solver):
    true, users, items, ratings, _, mask = planted()
    model = fit(data_for(users, items, ratings, *true.shape),
                TrainParams(factors=8, objective="rating", init="random", seed=1, solver=solver))
    held_u, held_i = np.nonzero(~mask)
    pred = model.predict(held_u, held_i)
    assert np.corrcoef(pred, true[held_u, held_i])[0, 1] > 0.9


@SOLVERS
def test_training_is_deterministic_with_a_seed(solver):
    true, users, items, ratings, text, _ = planted(n_users=80, n_items=60)
    data = data_for(users, items, ratings, *true.shape, text=text)
    p = TrainParams(factors=4, objective="rating", epochs=3, burn_in=1, seed=7, solver=solver)
    a, b = fit(data, p), fit(data, p)
    np.testing.assert_array_equal(a.item_factors, b.item_factors)
    assert [h["loss"] for h in a.history] == [h["loss"] for h in b.history]


def test_semantic_init_converges_faster_when_text_carries_the_signal():
    """Gradient training (the ranking solver, and ratings with solver=adam) starts where the text points."""
    true, users, items, ratings, text, _ = planted(density=0.05)
    data = data_for(users, items, ratings, *true.shape, text=text)
    curves = {}
    for init in ("semantic", "random"):
        model = fit(data, TrainParams(factors=8, objective="rating", init=init, text_map=False, epochs=6,
                                      patience=100, seed=3, solver="adam"))
        curves[init] = [h["val_rmse"] for h in model.history]
    # Better from the first epoch on, and still better after a few.
    assert curves["semantic"][0] < curves["random"][0]
    assert curves["semantic"][2] < curves["random"][2]


def test_gibbs_text_prior_helps_when_text_carries_the_signal():
    """A sampler forgets where it started; Gibbs uses text through the prior mean W·e instead, which must pay
    off on sparse ratings whose items' text carries their factors."""
    true, users, items, ratings, text, mask = planted(density=0.05)
    data = data_for(users, items, ratings, *true.shape, text=text)
    held_u, held_i = np.nonzero(~mask)
    error = {}
    for text_map in (True, False):
        model = fit(data, TrainParams(factors=8, objective="rating", text_map=text_map, seed=0, solver="gibbs"))
        error[text_map] = np.sqrt(np.mean((model.predict(held_u, held_i) - true[held_u, held_i]) ** 2))
    assert error[True] < 0.9 * error[False]


@SOLVERS
def test_cold_item_known_only_by_text_ranks_sensibly(solver):
    true, users, items, ratings, text, _ = planted(density=0.2)
    cold = np.arange(20)  # these items have no interactions at all in training
    keep = ~np.isin(items, cold)
    data = data_for(users[keep], items[keep], ratings[keep], *true.shape, text=text)
    model = fit(data, TrainParams(factors=8, objective="rating", seed=0, solver=solver))
    q, b = model.item_from_text(text[cold])
    scores = model.mu + model.user_bias[:, None] + b[None, :] + model.user_factors @ q.T
    # Across users, the text-mapped cold items are ordered much like their true scores.
    corr = [np.corrcoef(scores[u], true[u, cold])[0, 1] for u in range(true.shape[0])]
    assert np.mean(corr) > 0.5
    # Without the text map, a cold item has nothing but the prior.
    plain = fit(data, TrainParams(factors=8, objective="rating", seed=0, text_map=False, init="random",
                                     solver=solver))
    q0, _ = plain.item_from_text(text[cold])
    assert not q0.any()


@pytest.mark.parametrize("precision", ["fp32", "bf16"])  # bf16: what "auto" picks on CPUs with native bf16
def test_ranking_objective_learns_who_likes_what(precision):
    true, users, items, ratings, text, _ = planted(density=0.2)
    liked = ratings >= 4
    data = TrainData(*true.shape, users[liked].astype(np.int64), items[liked].astype(np.int64),
                     np.full(liked.sum(), np.nan, np.float32), np.ones(liked.sum(), np.float32), text,
                     np.ones(true.shape[1], bool))
    model = fit(data, TrainParams(factors=8, objective="auto", seed=0, precision=precision))
    assert model.objective == "ranking"
    scores = model.user_factors @ model.item_factors.T + model.item_bias
    corr = [np.corrcoef(scores[u], true[u])[0, 1] for u in range(true.shape[0])]
    assert np.mean(corr) > 0.5


@pytest.mark.parametrize("full_softmax_items", [10_000, 50])  # the full softmax, and sampled negatives
def test_large_tables_train_sparsely_and_learn_the_same(monkeypatch, full_softmax_items):
    """Above ``SPARSE_ROWS`` rows a table gets sparse gradients and lazy Adam (big catalogs and user bases);
    here the threshold is lowered so that both tables are sparse, and the fit must learn as the dense one does."""
    from app.trainer import model as trainer_model

    true, users, items, ratings, text, _ = planted(density=0.2)
    liked = ratings >= 4
    data = TrainData(*true.shape, users[liked].astype(np.int64), items[liked].astype(np.int64),
                     np.full(liked.sum(), np.nan, np.float32), np.ones(liked.sum(), np.float32), text,
                     np.ones(true.shape[1], bool))
    params = TrainParams(factors=8, objective="ranking", seed=0, full_softmax_items=full_softmax_items,
                         negatives=40)
    corr = {}
    for rows in (10**9, 0):
        monkeypatch.setattr(trainer_model, "SPARSE_ROWS", rows)
        seen = []
        real = trainer_model.HybridMF.__init__

        def spy(self, *args, _real=real, _seen=seen, **kwargs):
            _real(self, *args, **kwargs)
            _seen.append((self.user.delta.sparse, self.item.delta.sparse))
        monkeypatch.setattr(trainer_model.HybridMF, "__init__", spy)
        model = fit(data, params)
        monkeypatch.setattr(trainer_model.HybridMF, "__init__", real)
        scores = model.user_factors @ model.item_factors.T + model.item_bias
        corr[rows] = np.mean([np.corrcoef(scores[u], true[u])[0, 1] for u in range(true.shape[0])])
        # users sparse when asked; items too, unless the full softmax reads them whole every batch
        assert seen[-1] == ((rows == 0), rows == 0 and full_softmax_items < true.shape[1])
    assert corr[0] > 0.5 and corr[10**9] > 0.5


def test_auto_solver_samples_ratings_unless_the_matrices_would_not_fit():
    p = TrainParams()
    assert p.resolved("rating", 10_000).solver == "gibbs" and p.resolved("rating", 10_000).factors == 20
    assert p.resolved("rating", GIBBS_MAX_ROWS + 1).solver == "adam"
    assert p.resolved("ranking", 10).solver == "adam" and p.resolved("ranking", 10).factors == 64
    assert TrainParams(solver="gibbs", factors=8).resolved("rating", 10**7).solver == "gibbs"  # asked for: kept
