"""How many impression lists an experiment needs before its answer is read: planned up front, because reading
the p-value as the counts come in and stopping at the first p < alpha ("peeking") makes false winners several
times likelier than alpha.

Both sizes count recommendation lists shown. ``base_rate`` is the share of lists that get at least one click (or
purchase), the A/B test's trial unit (see ``app.experiments.decision``), so one figure from the service's logs
plans either method."""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import brentq
from scipy.stats import binom, nbinom, norm, poisson


def _z(alpha: float, power: float) -> tuple[float, float]:
    return float(norm.ppf(1 - alpha / 2)), float(norm.ppf(power))


def ab_sample_size(base_rate: float, min_relative_lift: float, alpha: float = 0.05, power: float = 0.8,
                   design_effect: float = 1.0) -> int:
    """Lists per variant for a two-sided two-proportion z-test to detect rate p2 = p1 (1 + lift) over p1:

        n = deff · (z_{1-α/2} √(2 p̄ (1 - p̄)) + z_{1-β} √(p1 (1 - p1) + p2 (1 - p2)))² / (p2 - p1)²,
        p̄ = (p1 + p2) / 2

    (Fleiss, Statistical Methods for Rates and Proportions, without continuity correction; base 0.05, lift 10%
    gives 31,234 per variant at deff 1).

    ``design_effect`` (deff) is var_clustered / var_binomial of the rate when shoppers come back and keep their
    variant: lists of one shopper are alike, so each adds less than an independent trial. The service estimates
    it with ``app.experiments.stats.design_effect`` from the last days' impressions (one variant's per-shopper
    sums, over a period as long as the experiment will run: returning shoppers make it grow with the period).
    Without history the plan assumes 1; ``decide`` still uses the clustered test when the figures carry the
    sums, so false winners stay at alpha, but the test reaches its plan underpowered (power below ``power``)."""
    p1 = base_rate
    p2 = base_rate * (1 + min_relative_lift)
    if not 0 < p1 < 1 or not 0 < p2 < 1 or p1 == p2:
        raise ValueError(f"need 0 < base rate, lifted rate < 1 and a non-zero lift, got {p1}, {p2}")
    za, zb = _z(alpha, power)
    if not design_effect >= 1:
        raise ValueError(f"the design effect is at least 1, got {design_effect}")
    pbar = (p1 + p2) / 2
    n = design_effect * (za * math.sqrt(2 * pbar * (1 - pbar)) + zb * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))) ** 2
    return math.ceil(n / (p2 - p1) ** 2)


def _exposure(rate: float, shape: float) -> float:
    """Mean clicks per list at which a share ``rate`` of lists gets any click, when shoppers' activity is gamma of
    ``shape`` (mean 1) and clicks are Poisson given activity: rate = 1 - (1 + S / shape)^(-shape); shape ∞ is
    rate = 1 - exp(-S)."""
    return -math.log1p(-rate) if math.isinf(shape) else shape * ((1 - rate) ** (-1 / shape) - 1)


def _dispersion(base_rate: float, clicks_per_clicked_list: float) -> float:
    """The gamma shape that makes lists with a click have ``clicks_per_clicked_list`` clicks on average: mean
    clicks per list is S = c̄ · base_rate, and the shape solves base_rate = 1 - (1 + S / shape)^(-shape). Fewer
    clicks than Poisson lists would have (no spread between shoppers): infinity."""
    mean = clicks_per_clicked_list * base_rate
    if base_rate >= -math.expm1(-mean) * (1 - 1e-9):
        return math.inf
    lowest = 0.01  # a shape this small has 1 shopper in 10^200 clicking: spread beyond it is rounded to it
    if _exposure(base_rate, lowest) <= mean:
        return lowest
    return float(brentq(lambda shape: _exposure(base_rate, shape) - mean, lowest, 1e9, xtol=1e-12))


def _wins(base_rate: float, lift: float, clicks_per_clicked_list: float) -> tuple[float, float]:
    """P(b wins), P(a wins) for one interleaved list, clicks modelled as negative binomial (see
    ``interleaving_sample_size``)."""
    shape = _dispersion(base_rate, clicks_per_clicked_list)
    s_a, s_b = _exposure(base_rate, shape), _exposure(base_rate * (1 + lift), shape)
    q1 = s_b / (s_a + s_b)  # a click lands on b's half of the merged list
    mean = (s_a + s_b) / 2
    counts = poisson(mean) if math.isinf(shape) else nbinom(shape, shape / (shape + mean))
    top = int(counts.ppf(1 - 1e-12)) + 1
    c = np.arange(1, top + 1)
    weight = counts.pmf(c)
    win_b = float(weight @ binom.sf(c // 2, c, q1))  # more than half of c clicks on b
    win_a = float(weight @ binom.cdf((c - 1) // 2, c, q1))  # fewer than half
    return win_b, win_a


def interleaving_sample_size(base_rate: float, min_relative_lift: float, alpha: float = 0.05, power: float = 0.8,
                             clicks_per_clicked_list: float = 1.0) -> int:
    """Interleaved lists to show (in all, both variants are in every list) for the sign test of
    ``interleaving_test`` to detect a relative lift δ in the share of lists clicked.

    The reasoning. When every clicked list has one click, the shopper clicks b's items (1 + δ) times as often as
    a's, so the click lands on b's item with probability q = (1 + δ) / (2 + δ), every clicked list is decisive,
    and the sign test needs

        n_pref = ((z_{1-α/2} · 0.5 + z_{1-β} · √(q (1 - q))) / (q - 0.5))²

    decisive lists (normal approximation of the binomial; the null has variance 0.25). The lists to show are
    n_pref / P(decisive), P(decisive) = ``base_rate``, the share of lists with any click (for k items each
    clicked with probability p independently that share is 1 - (1 - p)^k, but the service measures it). This is
    the default, ``clicks_per_clicked_list=1``.

    Shoppers who click several items of a list change both numbers, and the service can measure how many
    (``clicks_per_clicked_list``, c̄: clicks over lists with any click, from its logs). Clicks per list are then
    modelled as negative binomial: Poisson given the shopper's activity, activity gamma with the shape that
    gives c̄. The same model turns a δ lift in the share of lists clicked into the lift per click (larger, since
    a keen shopper's list is clicked in either variant: ``_exposure``); a click lands on b's half with
    q1 = S_b / (S_a + S_b); a list with c clicks goes to b when more than half land there (a tie, possible for
    even c, is no decision); q and P(decisive) are averaged over c. Approximations: Poisson for the sum of the
    items' Bernoulli clicks, equal examination of both halves of the merged list (team-draft's coin makes it so
    on average). ``scripts.simulate_experiments`` checks the plan's power in a shop with position bias."""
    if not 0 < base_rate < 1 or not 0 < base_rate * (1 + min_relative_lift) < 1 or min_relative_lift == 0:
        raise ValueError("need 0 < base rate and lifted rate < 1 and a non-zero lift")
    if clicks_per_clicked_list < 1:
        raise ValueError("a clicked list has at least one click")
    za, zb = _z(alpha, power)
    lift = abs(min_relative_lift)
    if clicks_per_clicked_list == 1:
        q = (1 + lift) / (2 + lift)
        decisive = base_rate
    else:
        win_b, win_a = _wins(base_rate, lift, clicks_per_clicked_list)
        q, decisive = win_b / (win_b + win_a), win_b + win_a
    n_pref = ((za * 0.5 + zb * math.sqrt(q * (1 - q))) / (q - 0.5)) ** 2
    return math.ceil(n_pref / decisive)
