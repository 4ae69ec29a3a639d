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
