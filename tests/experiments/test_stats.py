"""The tests, sample sizes and verdict against textbook values and hand-worked counts."""

import math

import pytest
from scipy.stats import norm

from app.experiments import (
    NO_DIFFERENCE,
    NONE_YET,
    ab_sample_size,
    ab_test,
    decide,
    interleaving_sample_size,
    interleaving_test,
    wilson,
)


def test_ab_sample_size_matches_the_textbook_formula():
    # Fleiss' formula worked by hand: p1 0.05, p2 0.055, p̄ 0.0525, z 1.95996 and 0.84162
    za, zb = 1.959964, 0.841621
    n = (za * math.sqrt(2 * 0.0525 * 0.9475) + zb * math.sqrt(0.05 * 0.95 + 0.055 * 0.945)) ** 2 / 0.005 ** 2
    assert ab_sample_size(0.05, 0.10) == math.ceil(n) == 31234
    assert 3800 < ab_sample_size(0.10, 0.20) < 3900  # 10% -> 12%: 3,841 per arm in common calculators
    assert ab_sample_size(0.05, 0.10, power=0.9) > ab_sample_size(0.05, 0.10)
    with pytest.raises(ValueError):
        ab_sample_size(0.5, 1.0)


def test_interleaving_sample_size_is_the_sign_test_over_decisive_lists():
    q = 1.1 / 2.1
    z = norm.ppf(0.975) * 0.5 + norm.ppf(0.8) * math.sqrt(q * (1 - q))
    assert interleaving_sample_size(0.05, 0.10) == math.ceil((z / (q - 0.5)) ** 2 / 0.05)
    several = interleaving_sample_size(0.05, 0.10, clicks_per_clicked_list=2.0)
    assert several < interleaving_sample_size(0.05, 0.10)  # several clicks per list vote by majority
    assert interleaving_sample_size(0.10, 0.10) < interleaving_sample_size(0.05, 0.10)


def test_wilson_known_values():
    assert wilson(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson(10, 100) == pytest.approx((0.0552, 0.1744), abs=1e-4)
    assert wilson(50, 100) == pytest.approx((0.4038, 0.5962), abs=1e-4)
    assert wilson(0, 0) == (0.0, 1.0)
    for trials in (1, 3, 7, 1000):  # the bounds no success or no failure allows, exactly (not 5.6e-17)
        assert wilson(0, trials)[0] == 0.0 and wilson(trials, trials)[1] == 1.0


def test_ab_test_hand_worked():
    r = ab_test(50, 1000, 70, 1000)
    assert r["difference"] == pytest.approx(0.02)
    se = math.sqrt(0.05 * 0.95 / 1000 + 0.07 * 0.93 / 1000)
    assert r["ci95"] == pytest.approx([0.02 - 1.959964 * se, 0.02 + 1.959964 * se], abs=1e-6)
    pooled = math.sqrt(0.06 * 0.94 * 2 / 1000)
    assert r["p_value"] == pytest.approx(2 * norm.sf(0.02 / pooled), rel=1e-9)
    assert 0.05 < r["p_value"] < 0.07
    assert ab_test(0, 0, 1, 10)["p_value"] == 1.0


def test_interleaving_test_is_the_exact_sign_test():
    r = interleaving_test(40, 60)
    assert r["share_b"] == 0.6 and r["ci95"][0] < 0.6 < r["ci95"][1]
    assert r["p_value"] == pytest.approx(0.05689, abs=1e-4)  # 2 P(Binom(100, 0.5) >= 60)
    assert interleaving_test(0, 0)["p_value"] == 1.0
    assert interleaving_test(5, 5)["p_value"] == 1.0


def test_decide_waits_for_the_plan_then_names_the_winner():
    ab = {"control": {"impressions": 1000, "clicks": 50}, "new": {"impressions": 999, "clicks": 90}}
    assert decide("ab", ab, planned=1000) == NONE_YET  # the smaller arm has not reached the plan
    ab["new"]["impressions"] = 1000
    assert decide("ab", ab, planned=1000) == "new"
    assert decide("ab", ab, planned=1000, metric="purchases") == NO_DIFFERENCE  # no purchases counted
    ab["control"]["clicks"] = 90
    assert decide("ab", ab, planned=1000) == NO_DIFFERENCE
    il = {"a": {"impressions": 5000, "clicks": 300}, "b": {"impressions": 5000, "clicks": 200}}
    assert decide("interleaving", il, planned=5001) == NONE_YET
    assert decide("interleaving", il, planned=5000) == "a"
    assert decide("interleaving", il, planned=5000, alpha=1e-6) == NO_DIFFERENCE
    with pytest.raises(ValueError):
        decide("bandit", il, 1)
    with pytest.raises(ValueError):
        decide("ab", {"a": ab["new"]}, 1)
