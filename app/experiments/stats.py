"""The tests an experiment's counts go through: Wilson intervals, the two-proportion z-test of an A/B test, and
the sign test of an interleaving experiment. Pure functions of counts, so the service, the dashboard and the
simulation read the same numbers."""

from __future__ import annotations

import math

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
    return max(0.0, centre - half), min(1.0, centre + half)


def ab_test(successes_a: int, trials_a: int, successes_b: int, trials_b: int) -> dict:
    """Compare two rates: ``rate_a``, ``rate_b``, ``difference`` (b - a), ``ci95`` of the difference (unpooled
    Wald: each arm's own variance, right when the rates differ) and ``p_value`` of the two-sided z-test with the
    pooled rate (the variance under the null hypothesis that both rates are equal, which is what a p-value
    assumes)."""
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
