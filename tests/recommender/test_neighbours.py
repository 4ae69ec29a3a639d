"""The few-event ranking (``app.model.neighbours``) on planted data: two kinds of established users,
told apart by their profile text and by their factors, each with their own items."""

import numpy as np
import pytest

from app.model import neighbours

N_ITEMS, K, D = 40, 4, 8


@pytest.fixture
def planted():
    """Users 0-99 like items 0-19 (profile direction 0, factors +v), users 100-199 items 20-39 (direction 1, -v).
    Items 0-19 have factors +v, items 20-39 -v: the model scores each group's items high for its users."""
    rng = np.random.default_rng(0)
    v = np.array([2.0, 0.0, 0.0, 0.0])
    group = np.repeat([0, 1], 100)
    user_factors = np.where(group[:, None] == 0, v, -v) + 0.1 * rng.standard_normal((200, K))
    item_factors = np.vstack([np.tile(v, (20, 1)), np.tile(-v, (20, 1))])
    item_vectors = np.hstack([item_factors, np.zeros((N_ITEMS, 1))]).astype(np.float32)
    text = 0.3 * rng.standard_normal((200, D)).astype(np.float32)
    text[np.arange(200), group] += 1.0
    users = np.repeat(np.arange(200), 12)
    items = np.concatenate([rng.choice(20, 12, replace=False) + 20 * g for g in group])
    indptr, seen = neighbours.histories(users, items, 200)
    chosen = neighbours.pick(indptr)
    refs = neighbours.build(chosen, user_factors.astype(np.float32), item_vectors, indptr, seen,
                            neighbours.unit_profiles(text, None)[chosen])
    return refs, item_vectors, text


def _share_of_group(scores: np.ndarray, lo: int, k: int = 10) -> float:
    top = np.argsort(-scores)[:k]
    return float(np.mean((top >= lo) & (top < lo + 20)))


def test_every_established_user_is_a_reference_and_the_normaliser_is_exact(planted):
    refs, item_vectors, _ = planted
    assert len(refs.users) == 200 and refs.history.shape == (200, N_ITEMS)
    assert refs.history.sum() == 200 * 12  # one entry per (user, item), all ones
    logits = refs.queries.astype(np.float64) @ item_vectors.T.astype(np.float64)
    np.testing.assert_allclose(refs.log_norm, np.log(np.exp(logits).sum(1)), rtol=1e-6)


def test_profile_text_alone_picks_the_users_like_them(planted):
    refs, item_vectors, _ = planted
    profile = np.eye(D, dtype=np.float32)[1]  # reads like group 1
    scores = neighbours.scores(refs, item_vectors, np.zeros(0, np.int64), profile)
    assert _share_of_group(scores, 20) == 1.0
    assert scores.shape == (N_ITEMS,) and scores.sum() == pytest.approx(12.0)  # a mixture of 12-item histories


def test_events_alone_pick_the_users_like_them(planted):
    refs, item_vectors, _ = planted
    for events, lo in ((np.array([1, 5, 9]), 0), (np.array([21, 25, 29]), 20)):
        scores = neighbours.scores(refs, item_vectors, events, None)
        assert _share_of_group(scores, lo) == 1.0


def test_profile_and_events_both_count(planted):
    refs, item_vectors, _ = planted
    profile = np.eye(D, dtype=np.float32)[0]
    with_events = neighbours.scores(refs, item_vectors, np.array([21, 25, 29]), profile)
    alone = neighbours.scores(refs, item_vectors, np.zeros(0, np.int64), profile)
    assert with_events[20:].sum() > alone[20:].sum()  # the events pull towards group 1 ...
    assert _share_of_group(with_events, 0) == 1.0  # ... but the profile (BETA) still decides


def test_a_user_is_not_their_own_neighbour(planted):
    refs, item_vectors, text = planted
    indptr_items = refs.history[7].indices  # reference user 7's items
    own = neighbours.scores(refs, item_vectors, indptr_items, text[7], exclude_user=7)
    counted = neighbours.scores(refs, item_vectors, indptr_items, text[7])
    assert own[indptr_items].sum() < counted[indptr_items].sum()
    assert own.sum() == pytest.approx(12.0)


def test_too_few_established_users_means_no_references():
    indptr = np.arange(0, 12 * (neighbours.MIN_REFERENCES - 1) + 1, 12)  # 99 users with 12 events
    assert len(neighbours.pick(indptr)) == 0
    indptr = np.concatenate([indptr, [indptr[-1] + 12, indptr[-1] + 15]])  # one more with 12, one with 3
    assert neighbours.pick(indptr).tolist() == list(range(neighbours.MIN_REFERENCES))


def test_many_established_users_are_sampled_the_same_way_every_time():
    indptr = np.arange(0, 10 * (neighbours.MAX_REFERENCES + 500) + 1, 10)
    first, second = neighbours.pick(indptr), neighbours.pick(indptr)
    assert len(first) == neighbours.MAX_REFERENCES and np.array_equal(first, second)
    assert np.all(np.diff(first) > 0)


def test_large_catalogs_estimate_the_normaliser_from_a_sample(monkeypatch):
    rng = np.random.default_rng(1)
    item_vectors = np.hstack([0.3 * rng.standard_normal((3000, K)), 0.1 * rng.standard_normal((3000, 1))])
    user_factors = 0.3 * rng.standard_normal((5, K))
    indptr, seen = neighbours.histories(np.repeat(np.arange(5), 10), rng.integers(0, 3000, 50), 5)
    exact = neighbours.build(np.arange(5), user_factors, item_vectors.astype(np.float32), indptr, seen, None)
    monkeypatch.setattr(neighbours, "NORMALISER_ITEMS", 1000)
    sampled = neighbours.build(np.arange(5), user_factors, item_vectors.astype(np.float32), indptr, seen, None)
    np.testing.assert_allclose(sampled.log_norm, exact.log_norm, atol=0.05)
    assert not np.allclose(sampled.log_norm, exact.log_norm, atol=1e-9)  # it did sample


def test_a_rank_requests_candidates_score_as_over_the_catalog(planted):
    refs, item_vectors, text = planted
    events, at = np.array([21, 25, 29]), np.array([39, 0, 22, 7, 22])
    for strategy in ("neighbours", "item_knn", "popularity"):
        popularity = np.arange(N_ITEMS, dtype=np.float32)
        full = neighbours.first_scores(strategy, refs, item_vectors, events, text[150], popularity)
        some = neighbours.first_scores(strategy, refs, item_vectors, events, text[150], popularity, at=at)
        np.testing.assert_allclose(some, full[at], rtol=1e-6)


def test_the_posterior_taste_leans_to_the_visitors_group_and_skips_themself(planted):
    refs, item_vectors, text = planted
    w = neighbours.weights(refs, item_vectors, np.array([21, 25, 29]), text[150])
    assert w.sum() == pytest.approx(1.0, rel=1e-5)
    taste = neighbours.taste(refs, w)
    np.testing.assert_allclose(taste, w @ refs.queries[:, :-1], rtol=1e-5)
    assert taste[0] < -1.5  # group 1's users have factors near -v: the tail ranks items 20-39 first
    scores = item_vectors @ np.append(taste, 1.0)
    assert _share_of_group(scores, 20) == 1.0
    own = neighbours.weights(refs, item_vectors, np.array([21]), None, exclude_user=int(refs.users[150]))
    assert own[150] == 0.0


def test_column_sums_read_the_candidates_columns_empty_ones_included():
    from scipy.sparse import random as sparse_random
    history = sparse_random(50, 30, density=0.1, format="lil", random_state=3)
    history[:, 7] = 0  # a column nobody had
    history = history.tocsr()
    history.data[:] = 1.0
    w = np.random.default_rng(0).random(50).astype(np.float32)
    at = np.array([7, 3, 3, 29, 0])
    expected = (history.T @ w)[at]
    np.testing.assert_allclose(neighbours.column_sums(history.tocsc(), w, at), expected, rtol=1e-6)
    assert neighbours.column_sums(history.tocsc(), w, np.array([7]))[0] == 0.0
    assert neighbours.column_sums(history.tocsc(), w, np.array([], np.int64)).shape == (0,)


def test_item_knn_is_the_cosine_over_the_references_histories(planted):
    refs = planted[0]
    items = np.array([21, 25, 29, 25])
    inverse = refs.inverse_root_counts
    unique = np.unique(items)
    expected = (refs.history.T @ (refs.history[:, unique] @ inverse[unique])) * inverse
    np.testing.assert_allclose(neighbours.cooccurrence(refs, items), expected, rtol=1e-5)
    np.testing.assert_allclose(neighbours.cooccurrence(refs, items, at=np.array([3, 22])), expected[[3, 22]],
                               rtol=1e-5)


def test_kept_likeness_is_the_computed_one_and_stays_within_its_bound(planted, monkeypatch):
    """``users.Tastes.likeness``: each visitor's kept array equals ``neighbours.likeness``; a new version or a
    changed profile is computed afresh; at most ``LIKENESS_USERS`` are kept, the least recently asked going
    first."""
    from types import SimpleNamespace

    from app.core.config import Settings
    from app.recommender import users

    refs, _, text = planted
    monkeypatch.setattr(users, "LIKENESS_USERS", 3)
    tastes = users.Tastes(Settings(_env_file=None))
    v1, v2 = SimpleNamespace(references=refs, version="v1"), SimpleNamespace(references=refs, version="v2")
    for n in range(5):
        got = tastes.likeness(v1, f"u{n}", text[n])
        assert np.array_equal(got, neighbours.likeness(refs, text[n]))
    kept = lambda: [key[0] for key in tastes._liked._entries]  # noqa: E731
    assert kept() == ["u2", "u3", "u4"]
    again = tastes.likeness(v1, "u2", text[2])
    assert again is tastes.likeness(v1, "u2", text[2]) and kept()[-1] == "u2"  # asked again: kept, and newest
    assert tastes.likeness(v2, "u2", text[2]) is not again  # another version
    changed = tastes.likeness(v2, "u2", text[7])
    assert np.array_equal(changed, neighbours.likeness(refs, text[7])) and len(kept()) == 3
