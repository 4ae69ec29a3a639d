"""The Wilson interval against values computed by hand (and the published 2/10 example)."""

import math

import pytest

from app.experiments.stats import wilson


def test_two_in_ten_by_hand():
    # p = 0.2, z^2 = 3.841459: centre = (0.2 + z^2/20) / (1 + z^2/10) = 0.283262,
    # half = z / (1 + z^2/10) * sqrt(0.016 + z^2/400) = 0.226578: [0.05668, 0.50984] (tables: 0.057, 0.510).
    lo, hi = wilson(2, 10)
    assert lo == pytest.approx(0.05668, abs=1e-5) and hi == pytest.approx(0.50984, abs=1e-5)


def test_edges_stay_inside_zero_and_one():
    assert wilson(0, 0) == (0.0, 1.0)
    lo, hi = wilson(0, 20)
    assert lo == 0.0 and hi == pytest.approx(3.841459 / (20 + 3.841459), abs=1e-6)  # z^2 / (n + z^2)
    lo, hi = wilson(20, 20)
    assert hi == 1.0 and lo == pytest.approx(20 / (20 + 3.841459), abs=1e-6)
    lo, hi = wilson(500, 1000)
    assert (lo + hi) / 2 == pytest.approx(0.5) and hi - lo == pytest.approx(2 * 1.959964 * math.sqrt(0.25 / 1000),
                                                                            rel=2e-3)
