"""``ranking.largest``: the n largest scores exactly, whatever their shape (ties, sorted runs, all equal)."""

import numpy as np
import pytest

from app.recommender.ranking import largest


@pytest.mark.parametrize("shape", ["uniform", "few values", "sorted", "zeros", "skewed"])
def test_the_n_largest_whatever_the_scores(shape):
    rng = np.random.default_rng(0)
    for _ in range(60):
        size, n = int(rng.integers(1, 150_000)), int(rng.integers(1, 300))
        draw = {"uniform": rng.random, "few values": lambda m: rng.integers(0, 3, m), "zeros": np.zeros,
                "sorted": lambda m: np.sort(rng.random(m)), "skewed": lambda m: rng.random(m) ** 12}[shape]
        scores = draw(size).astype(np.float32)
        got = largest(scores, n)
        assert len(got) == min(n, size) == len(set(got.tolist()))
        np.testing.assert_array_equal(np.sort(scores[got]), np.sort(scores)[size - len(got):])


@pytest.mark.parametrize("shape", ["uniform", "few values", "zeros", "skewed"])
def test_best_is_the_full_sort_s_head_ties_by_position(shape):
    """``ranking.best`` (popular items, trending ones) against sorting every candidate by (-value, position)."""
    from app.recommender.ranking import best

    rng = np.random.default_rng(1)
    for _ in range(60):
        size, k = int(rng.integers(1, 150_000)), int(rng.integers(0, 120))
        values = {"uniform": rng.random, "few values": lambda m: rng.integers(0, 3, m), "zeros": np.zeros,
                  "skewed": lambda m: rng.random(m) ** 12}[shape](size)
        candidates = np.flatnonzero(rng.random(size) < 0.7)
        want = candidates[np.lexsort((candidates, -values[candidates]))[:k]]
        np.testing.assert_array_equal(best(candidates, values, k), want)
