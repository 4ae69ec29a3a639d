"""How many impression lists an experiment needs before its answer is read: planned up front, because reading
the p-value as the counts come in and stopping at the first p < alpha ("peeking") makes false winners several
times likelier than alpha.

Both sizes count recommendation lists shown. ``base_rate`` is the share of lists that get at least one click (or
purchase), the A/B test's trial unit (see ``app.experiments.decision``), so one figure from the service's logs
plans either method."""

from __future__ import annotations

import math

from scipy.stats import binom, norm, poisson


def _z(alpha: float, power: float) -> tuple[float, float]:
    return float(norm.ppf(1 - alpha / 2)), float(norm.ppf(power))


def ab_sample_size(base_rate: float, min_relative_lift: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """Lists per variant for a two-sided two-proportion z-test to detect rate p2 = p1 (1 + lift) over p1:

        n = (z_{1-α/2} √(2 p̄ (1 - p̄)) + z_{1-β} √(p1 (1 - p1) + p2 (1 - p2)))² / (p2 - p1)²,  p̄ = (p1 + p2) / 2

    (Fleiss, Statistical Methods for Rates and Proportions, without continuity correction; base 0.05, lift 10%
    gives 31,234 per variant)."""
    p1 = base_rate
    p2 = base_rate * (1 + min_relative_lift)
    if not 0 < p1 < 1 or not 0 < p2 < 1 or p1 == p2:
        raise ValueError(f"need 0 < base rate, lifted rate < 1 and a non-zero lift, got {p1}, {p2}")
    za, zb = _z(alpha, power)
    pbar = (p1 + p2) / 2
    n = (za * math.sqrt(2 * pbar * (1 - pbar)) + zb * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))) ** 2
    return math.ceil(n / (p2 - p1) ** 2)


def _wins_by_clicks(q1: float, mean_clicks: float) -> tuple[float, float]:
    """P(b wins), P(a wins) for a list with at least one click, when it has 1 + Poisson(mean_clicks - 1) clicks
    and each lands on b's item with probability q1."""
    extra = mean_clicks - 1
    top = 1 + int(poisson.ppf(1 - 1e-9, extra)) if extra > 0 else 1
    win_b = win_a = 0.0
    for c in range(1, top + 1):
        weight = float(poisson.pmf(c - 1, extra)) if extra > 0 else 1.0
        half = c // 2
        win_a += weight * float(binom.cdf((c - 1) // 2, c, q1))  # b got fewer than half the clicks
        win_b += weight * float(binom.sf(half, c, q1))  # b got more than half
    return win_b, win_a


def interleaving_sample_size(base_rate: float, min_relative_lift: float, alpha: float = 0.05, power: float = 0.8,
                             clicks_per_clicked_list: float = 1.0) -> int:
    """Interleaved lists to show (in all, both variants are in every list) for the sign test of
    ``interleaving_test`` to detect a relative lift δ.

    The reasoning. A shopper who clicks an interleaved list clicks b's items (1 + δ) times as often as a's, so a
    single click lands on b's item with probability q1 = (1 + δ) / (2 + δ). With one click per clicked list,
    every clicked list is decisive, b wins it with probability q = q1, and the sign test needs

        n_pref = ((z_{1-α/2} · 0.5 + z_{1-β} · √(q (1 - q))) / (q - 0.5))²

    decisive lists (normal approximation of the binomial; the null has variance 0.25). The lists to show are
    n_pref / P(decisive), with P(decisive) ≈ ``base_rate``, the share of lists with any click; the share of
    lists with any click equals 1 - (1 - p)^k for k items each clicked with probability p, when clicks are
    independent, but the service measures it directly.

    Shoppers who click several items of a list make it more informative: the majority of c clicks favours b more
    often than one click does (ties, possible for even c, are lost). ``clicks_per_clicked_list`` (the mean number
    of clicks among lists with any click, from the service's logs) takes that in, modelling the clicks of a
    clicked list as 1 + Poisson(mean - 1); q and P(decisive) are then averaged over that count. The default 1.0
    is the single-click formula above, the cautious plan.

    Approximations, checked by ``scripts.simulate_experiments``: δ is taken as the per-click lift (a 10% lift in
    the share of lists clicked needs a slightly larger per-item lift, so q is underestimated and the plan errs
    long); the interleaved list's click share is taken as the control's ``base_rate``."""
    if not 0 < base_rate < 1 or min_relative_lift == 0 or clicks_per_clicked_list < 1:
        raise ValueError("need 0 < base rate < 1, a non-zero lift and at least one click per clicked list")
    za, zb = _z(alpha, power)
    q1 = (1 + abs(min_relative_lift)) / (2 + abs(min_relative_lift))
    win_b, win_a = _wins_by_clicks(q1, clicks_per_clicked_list)
    q = win_b / (win_b + win_a)
    n_pref = ((za * 0.5 + zb * math.sqrt(q * (1 - q))) / (q - 0.5)) ** 2
    return math.ceil(n_pref / (base_rate * (win_b + win_a)))
