"""The clustered A/B test (delta method over shoppers), the design effect and the plan that uses it."""

import math

import numpy as np
import pytest
from scipy.stats import norm

from app.experiments import (
    NO_DIFFERENCE,
    ab_sample_size,
    ab_test,
    ab_test_clustered,
    decide,
    design_effect,
    design_effect_bound,
    shopper_figures,
)
from app.experiments.stats import rate_variance


def sums(lists: np.ndarray, clicked: np.ndarray, spread: bool = False) -> dict:
    """One variant's figures with the per-shopper sums, from each shopper's lists and clicked lists."""
    return shopper_figures(lists, clicked, spread=spread)


def test_one_list_per_shopper_is_the_binomial_variance_and_no_design_effect():
    rng = np.random.default_rng(0)
    clicked = (rng.random(5000) < 0.07).astype(int)
    f = sums(np.ones(5000), clicked)
    r = clicked.mean()
    assert rate_variance(f) == pytest.approx(r * (1 - r) / 5000, rel=1e-12)
    assert design_effect(f) == 1.0
    g = sums(np.ones(4000), (rng.random(4000) < 0.09).astype(int))
    clustered, naive = ab_test_clustered(f, g), ab_test(f["clicks"], 5000, g["clicks"], 4000)
    assert clustered["ci95"] == pytest.approx(naive["ci95"], rel=1e-12)  # the same unpooled Wald interval
    z_clustered, z_naive = norm.isf(clustered["p_value"] / 2), norm.isf(naive["p_value"] / 2)
    assert z_clustered == pytest.approx(z_naive, rel=0.03)  # unpooled vs pooled variance under the null


def test_delta_method_by_hand():
    # three shoppers: (x, y) = (1, 1), (2, 0), (3, 1); r = 2/6, x̄ = 2, ȳ = 2/3, divisor n = 3
    f = sums(np.array([1, 2, 3]), np.array([1, 0, 1]))
    assert f == {"impressions": 6, "clicks": 2, "shoppers": 3, "lists_sq": 14, "clicks_sq": 2, "clicks_lists": 4}
    var_x, var_y, cov = 14 / 3 - 4, 2 / 3 - 4 / 9, 4 / 3 - 4 / 3
    expected = (var_y - 2 / 3 * cov + var_x / 9) / (3 * 4)
    assert rate_variance(f) == pytest.approx(expected, rel=1e-12)
    assert design_effect(f) == pytest.approx(max(1.0, expected / ((1 / 3) * (2 / 3) / 6)))


def test_design_effect_is_at_least_one_and_grows_with_alike_lists():
    rng = np.random.default_rng(1)
    lists = 1 + rng.poisson(4, size=3000)
    alike = rng.binomial(lists, np.where(rng.random(3000) < 0.1, 0.5, 0.01))  # a few keen shoppers click a lot
    assert design_effect(sums(lists, alike)) > 2
    assert design_effect(sums(lists, 0 * lists)) == 1.0  # nobody clicks: rate 0, nothing to inflate
    for seed in range(20):  # independent lists: about 1, never below
        r = np.random.default_rng(seed)
        x = 1 + r.poisson(3, size=500)
        assert design_effect(sums(x, r.binomial(x, 0.1))) >= 1.0
    assert design_effect({"impressions": 0, "clicks": 0}) == 1.0


def week(rng: np.random.Generator, shoppers: int = 4000) -> tuple[np.ndarray, np.ndarray]:
    """A week of returning shoppers: 1 + NegBin lists each (mean 4.5, heavy tail), each shopper clicking a list
    with their own chance (beta, mean 0.05: a few keen ones click most of theirs)."""
    lists = 1 + rng.negative_binomial(0.5, 0.5 / (0.5 + 3.5), size=shoppers)
    return lists, rng.binomial(lists, rng.beta(0.3, 5.7, size=shoppers))


def test_the_design_effects_upper_limit_covers_it_far_more_often_than_the_estimate():
    truth = design_effect(sums(*week(np.random.default_rng(99), 1_000_000)))  # what the estimate tends to
    rng = np.random.default_rng(3)
    weeks = [week(rng) for _ in range(400)]
    points = np.array([design_effect(sums(x, y)) for x, y in weeks])
    bounds = np.array([design_effect_bound(sums(x, y, spread=True)) for x, y in weeks])
    assert truth > 2 and abs(points.mean() / truth - 1) < 0.03  # about right on average
    assert np.all(bounds > points)
    # The 80% limit; the estimate is skewed (a busy shopper's week is rare), so it covers somewhat fewer weeks
    # than 80% here (0.72-0.75 over seeds), while the estimate itself covers fewer than half.
    assert 0.65 <= np.mean(bounds >= truth) <= 0.9 and np.mean(points >= truth) <= 0.5
    assert design_effect_bound(sums(*weeks[0], spread=True), level=0.95) > bounds[0]


def test_the_upper_limit_without_its_sums_or_spread_is_the_estimate():
    rng = np.random.default_rng(4)
    x, y = week(rng)
    assert design_effect_bound(sums(x, y)) == design_effect(sums(x, y))  # no fourth-order sums: the estimate
    assert design_effect_bound(sums(x, 0 * x, spread=True)) == 1.0  # nobody clicks
    one = sums(np.ones(60_000), rng.random(60_000) < 0.2, spread=True)  # one list each: the binomial
    assert design_effect(one) == 1.0 and 1.0 < design_effect_bound(one) < 1.01
    few = sums(np.array([1, 9, 2, 1]), np.array([0, 9, 0, 0]), spread=True)  # four shoppers, one keen: unsure
    assert design_effect(few) * 1.4 < design_effect_bound(few) <= design_effect(few) * (1 + norm.ppf(0.8))


def test_plan_multiplies_by_the_design_effect():
    assert ab_sample_size(0.05, 0.10, design_effect=1.0) == ab_sample_size(0.05, 0.10) == 31234
    assert 2.5 * 31233 < ab_sample_size(0.05, 0.10, design_effect=2.5) <= math.ceil(2.5 * 31234)
    with pytest.raises(ValueError):
        ab_sample_size(0.05, 0.10, design_effect=0.5)


def test_decide_uses_the_shopper_sums_when_both_variants_have_them():
    # 500 shoppers per arm with 10 lists each; one shopper in ten clicks all ten lists, or (b) a few more do
    x = np.full(500, 10)
    a = sums(x, np.where(np.arange(500) < 50, 10, 0))
    b = sums(x, np.where(np.arange(500) < 68, 10, 0))
    plain = {"A": {k: a[k] for k in ("impressions", "clicks")}, "B": {k: b[k] for k in ("impressions", "clicks")}}
    assert decide("ab", plain, planned=5000) == "B"  # lists as independent trials: 500 vs 680 of 5000
    assert decide("ab", {"A": a, "B": b}, planned=5000) == NO_DIFFERENCE  # 50 vs 68 of 500 shoppers
    assert decide("ab", {"A": a, "B": plain["B"]}, planned=5000) == "B"  # sums in one variant only: lists
    assert decide("ab", {"A": a, "B": b}, planned=5000, metric="purchases") == NO_DIFFERENCE  # no purchase sums


def test_the_clustered_p_value_pools_like_the_list_test_and_decides_a_clean_split():
    one_list = [({"impressions": 400, "clicks": 40, "shoppers": 400, "lists_sq": 400, "clicks_sq": 40,
                  "clicks_lists": 40}), ({"impressions": 400, "clicks": 62, "shoppers": 400, "lists_sq": 400,
                                          "clicks_sq": 62, "clicks_lists": 62})]
    clustered = ab_test_clustered(*one_list)
    assert clustered["p_value"] == pytest.approx(ab_test(40, 400, 62, 400)["p_value"], rel=1e-9)
    # Every list of one arm clicked, none of the other's: no spread within an arm, yet a decisive difference.
    none = {"impressions": 30, "clicks": 0, "shoppers": 10, "lists_sq": 90, "clicks_sq": 0, "clicks_lists": 0}
    every = {"impressions": 30, "clicks": 30, "shoppers": 10, "lists_sq": 90, "clicks_sq": 90, "clicks_lists": 90}
    assert ab_test_clustered(none, every)["p_value"] < 1e-3
    assert decide("ab", {"a": none, "b": every}, planned=30) == "b"
