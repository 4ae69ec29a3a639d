"""The tests an experiment's counts go through: Wilson intervals, the two-proportion z-test of an A/B test (over
lists, or over shoppers by the delta method when the figures carry per-shopper sums), and the sign test of an
interleaving experiment. Pure functions of counts, so the service, the dashboard and the simulation read the same
numbers."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from scipy.stats import binomtest, norm

Z95 = float(norm.ppf(0.975))


def wilson(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval (95% by default) of a rate. Unlike the Wald interval it stays inside [0, 1] and
    keeps its coverage for rare events and small counts, which is what click and purchase rates are.
    No trials: ``(0.0, 1.0)``, nothing is known."""
    if trials <= 0:
        return 0.0, 1.0
    p = successes / trials
    z2 = z * z
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / (1 + z2 / trials)
    # No success (or no failure) bounds the rate by exactly 0 (or 1); the formula leaves a rounding error there.
    low = 0.0 if successes <= 0 else max(0.0, centre - half)
    return low, (1.0 if successes >= trials else min(1.0, centre + half))


def ab_test(successes_a: int, trials_a: int, successes_b: int, trials_b: int) -> dict:
    """Compare two rates: ``rate_a``, ``rate_b``, ``difference`` (b - a), ``ci95`` of the difference (unpooled
    Wald: each arm's own variance, right when the rates differ) and ``p_value`` of the two-sided z-test with the
    pooled rate (the variance under the null hypothesis that both rates are equal, which is what a p-value
    assumes).

    The trials must be independent: right for lists when every shopper sees one list. When shoppers come back
    and keep their variant (``variant_of`` is sticky), the lists of one shopper are correlated and this test's
    variance is too small (false winners several times likelier than alpha): use ``ab_test_clustered``."""
    rate_a = successes_a / trials_a if trials_a else 0.0
    rate_b = successes_b / trials_b if trials_b else 0.0
    difference = rate_b - rate_a
    if trials_a <= 0 or trials_b <= 0:
        return {"rate_a": rate_a, "rate_b": rate_b, "difference": difference, "ci95": [-1.0, 1.0], "p_value": 1.0}
    se = math.sqrt(rate_a * (1 - rate_a) / trials_a + rate_b * (1 - rate_b) / trials_b)
    pooled = (successes_a + successes_b) / (trials_a + trials_b)
    se0 = math.sqrt(pooled * (1 - pooled) * (1 / trials_a + 1 / trials_b))
    p_value = 2 * float(norm.sf(abs(difference) / se0)) if se0 > 0 else 1.0
    return {"rate_a": rate_a, "rate_b": rate_b, "difference": difference,
            "ci95": [difference - Z95 * se, difference + Z95 * se], "p_value": min(1.0, p_value)}


def interleaving_test(wins_a: int, wins_b: int) -> dict:
    """Did one variant win more interleaved lists than the other? ``share_b`` = wins_b / (wins_a + wins_b), its
    Wilson ``ci95``, and the ``p_value`` of the two-sided exact binomial sign test against 0.5. Tied lists (and
    lists without a click) say nothing about the preference and are left out, as in Chapelle et al. 2012.
    No decisive list yet: share 0.5, interval [0, 1], p-value 1."""
    decisive = wins_a + wins_b
    if decisive <= 0:
        return {"share_b": 0.5, "ci95": [0.0, 1.0], "p_value": 1.0}
    lo, hi = wilson(wins_b, decisive)
    return {"share_b": wins_b / decisive, "ci95": [lo, hi],
            "p_value": float(binomtest(wins_b, decisive, 0.5, alternative="two-sided").pvalue)}


CLUSTER_KEYS = ("shoppers", "lists_sq")  # and, per metric m: f"{m}_sq", f"{m}_lists"


def has_shopper_sums(figures: Mapping[str, float], metric: str = "clicks") -> bool:
    """Whether one variant's ``figures`` carry the per-shopper sums ``ab_test_clustered`` reads for ``metric``."""
    return all(key in figures for key in (*CLUSTER_KEYS, f"{metric}_sq", f"{metric}_lists"))


def rate_variance(figures: Mapping[str, float], metric: str = "clicks", null_rate: float | None = None) -> float:
    """The delta-method variance of one variant's rate r = Σ_u y_u / Σ_u x_u over its n shoppers u, x_u the lists
    shopper u was shown and y_u those of them that succeeded (Deng, Knoblich & Lu 2018):

        var(r) ≈ (s_y² - 2 r s_xy + r² s_x²) / (n x̄²)

    with the variances and covariance over shoppers taken with divisor n (so that with one list per shopper it is
    exactly the binomial r (1 - r) / n). Read from ``figures``: ``impressions`` Σx, ``{metric}`` Σy, ``shoppers``
    n, ``lists_sq`` Σx², ``{metric}_sq`` Σy², ``{metric}_lists`` Σxy. No shopper yet: 0.

    ``null_rate`` r0: the variance under the null hypothesis that the rate is r0 (a p-value's), the same form
    Σ_u (y_u - r0 x_u)² / (Σx)² the arm's own variance has at r0 = r; with one list per shopper it is the
    pooled binomial r0 (1 - r0) / n at r = r0, and it stays above 0 where every list (or none) succeeded."""
    n = float(figures["shoppers"])
    sx, sy = float(figures["impressions"]), float(figures.get(metric, 0))
    if n <= 0 or sx <= 0:
        return 0.0
    if null_rate is not None:
        r0 = float(null_rate)
        spread = float(figures[f"{metric}_sq"]) - 2 * r0 * float(figures[f"{metric}_lists"]) \
            + r0 * r0 * float(figures["lists_sq"])
        return max(0.0, spread / (sx * sx))
    r, mx, my = sy / sx, sx / n, sy / n
    var_x = float(figures["lists_sq"]) / n - mx * mx
    var_y = float(figures[f"{metric}_sq"]) / n - my * my
    cov = float(figures[f"{metric}_lists"]) / n - mx * my
    return max(0.0, (var_y - 2 * r * cov + r * r * var_x) / (n * mx * mx))


def design_effect(figures: Mapping[str, float], metric: str = "clicks") -> float:
    """How many times the lists an A/B test needs when its lists come from returning shoppers: the delta-method
    variance of the rate (``rate_variance``) over the binomial one r (1 - r) / Σx, at least 1 (fewer would mean
    a shopper's lists are less alike than strangers', which a sample only shows by chance). Read it from one
    variant's figures over the last days, with the sums ``ab_test_clustered`` uses, and pass it to
    ``ab_sample_size(..., design_effect=...)``. No lists, or a rate of 0 or 1: 1."""
    lists = float(figures.get("impressions", 0))
    r = float(figures.get(metric, 0)) / lists if lists > 0 else 0.0
    if lists <= 0 or not 0 < r < 1:
        return 1.0
    return max(1.0, rate_variance(figures, metric) / (r * (1 - r) / lists))


SPREAD_KEYS = ("lists_4", "{m}_4", "{m}_3_lists", "{m}_sq_lists_sq", "{m}_lists_3")  # Σx⁴, Σy⁴, Σy³x, Σy²x², Σyx³


def shopper_figures(x, y, metric: str = "clicks", spread: bool = False) -> dict[str, float]:
    """One variant's figures from its shoppers' lists ``x`` and successful lists ``y`` (arrays, a shopper each):
    what ``shopper_sums`` reads from the store, for tools and tests. ``spread`` adds the fourth-order sums
    ``design_effect_bound`` reads."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    f = {"impressions": int(x.sum()), metric: int(y.sum()), "shoppers": len(x), "lists_sq": float(x @ x),
         f"{metric}_sq": float(y @ y), f"{metric}_lists": float(x @ y)}
    if spread:
        sums = ((x ** 4).sum(), (y ** 4).sum(), (y ** 3) @ x, (y * y) @ (x * x), y @ (x ** 3))
        f |= {k.format(m=metric): float(v) for k, v in zip(SPREAD_KEYS, sums, strict=True)}
    return f


def design_effect_bound(figures: Mapping[str, float], metric: str = "clicks", level: float = 0.8) -> float:
    """The one-sided ``level`` upper confidence limit of ``design_effect``: what an A/B plan should use.

    A plan scaled by the design effect a sample of last week shows reaches its power only when that estimate was
    not low by chance, about half the time, and power falls faster below the plan than it rises above it; planning
    on an upper confidence limit of the sample's variance instead (Browne 1995, "On the use of a pilot sample for
    sample size determination", Statistics in Medicine 14) gives the planned power in at least ``level`` of the
    experiments whose history is like theirs, at the cost of ``z_level`` standard errors more lists (at 80%, 0.84
    of them). The estimate is Σ_u e_u² / (Σx r (1 - r)) with e_u = y_u - r x_u a shopper's residual; its relative
    standard error is that of the sum of squares, √(Σe⁴ - (Σe²)² / n) / Σe², read from the fourth-order sums
    (``SPREAD_KEYS``). The relative error of a sum of squares is at most 1, so the limit is at most 1 + z_level
    times the estimate (1.84x at 80%), however few shoppers the week had. Figures without them: ``design_effect``."""
    point = design_effect(figures, metric)
    keys = [k.format(m=metric) for k in SPREAD_KEYS]
    lists, n = float(figures.get("impressions", 0)), float(figures.get("shoppers", 0))
    if lists <= 0 or n <= 1 or not all(k in figures for k in keys):
        return point
    r = float(figures.get(metric, 0)) / lists
    x4, y4, y3x, y2x2, yx3 = (float(figures[k]) for k in keys)
    e2 = float(figures[f"{metric}_sq"]) - 2 * r * float(figures[f"{metric}_lists"]) + r * r * float(figures["lists_sq"])
    e4 = y4 - 4 * r * y3x + 6 * r * r * y2x2 - 4 * r ** 3 * yx3 + r ** 4 * x4
    if e2 <= 0:
        return point
    relative_se = math.sqrt(max(0.0, e4 - e2 * e2 / n)) / e2
    return point * (1 + float(norm.ppf(level)) * relative_se)


def ab_test_clustered(figures_a: Mapping[str, float], figures_b: Mapping[str, float], metric: str = "clicks") -> dict:
    """The A/B test of ``ab_test`` with shoppers, not lists, as the independent unit: what sticky per-shopper
    assignment needs when shoppers see several lists. Each rate is a ratio Σ_u y_u / Σ_u x_u over the variant's
    shoppers; its variance is the delta method's (``rate_variance``). ``ci95`` uses the two arms' own variances;
    the two-sided z-test's ``p_value`` their variances under the null of one common rate (the pooled rate, as
    ``ab_test`` pools; one list per shopper gives exactly its figures). Also ``design_effect_a`` and
    ``design_effect_b``.

    Each variant's ``figures`` holds, besides ``impressions`` (Σx, lists shown) and ``{metric}`` (Σy, lists with
    >= 1 click or purchase): ``shoppers`` (n, shoppers shown a list), ``lists_sq`` (Σx²), ``{metric}_sq`` (Σy²)
    and ``{metric}_lists`` (Σxy), i.e. ``clicks_sq``, ``clicks_lists``, ``purchases_sq``, ``purchases_lists``.
    The service gets them from its impressions in one query: GROUP BY shopper (x = count of lists, y = count of
    lists with a click, per shopper and variant), then COUNT(*), SUM(x), SUM(y), SUM(x*x), SUM(y*y), SUM(x*y) per
    variant."""
    sx_a, sx_b = float(figures_a["impressions"]), float(figures_b["impressions"])
    rate_a = float(figures_a.get(metric, 0)) / sx_a if sx_a > 0 else 0.0
    rate_b = float(figures_b.get(metric, 0)) / sx_b if sx_b > 0 else 0.0
    difference = rate_b - rate_a
    se = math.sqrt(rate_variance(figures_a, metric) + rate_variance(figures_b, metric))
    result = {"rate_a": rate_a, "rate_b": rate_b, "difference": difference,
              "design_effect_a": design_effect(figures_a, metric), "design_effect_b": design_effect(figures_b, metric)}
    if sx_a <= 0 or sx_b <= 0:
        return {**result, "ci95": [-1.0, 1.0], "p_value": 1.0}
    pooled = (float(figures_a.get(metric, 0)) + float(figures_b.get(metric, 0))) / (sx_a + sx_b)
    se0 = math.sqrt(rate_variance(figures_a, metric, pooled) + rate_variance(figures_b, metric, pooled))
    p_value = 2 * float(norm.sf(abs(difference) / se0)) if se0 > 0 else 1.0
    return {**result, "ci95": [difference - Z95 * se, difference + Z95 * se], "p_value": min(1.0, p_value)}
