"""A simulated shop whose shoppers click with known probabilities, for checking the experiments library
(``app.experiments``) against a planted truth (``scripts.simulate_experiments``).

The click model, the same for A/B tests and interleaving: a shopper with activity h clicks the item at position j
(0-based) of a list with probability 1 - exp(-h · e_j · u), where e_j = 1 / log2(j + 2) is the chance the
position is looked at (position bias) and u the item's appeal. Activity varies between shoppers as a gamma
variable of mean 1 and shape ``activity_shape`` (small shape: most shoppers rarely click, a few click a lot, as
in shop logs; large shape: everyone alike).

Each variant's list ranks items of decreasing appeal, u_r ∝ 1 / √(r + 1). B's item at each rank is ``item_lift``
times as appealing as A's; the lists share no item. The scales are solved in closed form so that the share of A's
lists with at least one click is exactly ``base_rate`` and B's is exactly (1 + lift) times that, in expectation
over shoppers: with S = Σ_j e_j u_j, P(no click | h) = exp(-h S), and the gamma's Laplace transform gives
P(any click) = 1 - (1 + S / shape)^(-shape). The planted lift is a lift in list CTR, the A/B test's unit.

Returning shoppers (``lists_per_shopper``): shopper u sees L_u lists, all with the same activity h_u, drawn
independently of h_u, so the share of lists clicked is still ``base_rate``; lists of one shopper are correlated
through h_u."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.experiments import seed_of, team_draft


@dataclass(frozen=True)
class Shop:
    examination: np.ndarray  # (k,) e_j per position
    appeal_a: np.ndarray  # (k,) A's items by rank
    appeal_b: np.ndarray  # (k,) B's items by rank
    activity_shape: float

    @property
    def item_lift(self) -> float:
        return float(self.appeal_b[0] / self.appeal_a[0])

    def activity(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """The activity h of n shoppers: gamma of mean 1 and shape ``activity_shape``."""
        return rng.gamma(self.activity_shape, 1 / self.activity_shape, size=n)

    def clicks(self, appeal: np.ndarray, rng: np.random.Generator, activity: np.ndarray | None = None) -> np.ndarray:
        """Clicks (bool, n × k) on n lists whose items have ``appeal`` (n × k), shown to shoppers of the given
        ``activity`` per list (a returning shopper's lists repeat theirs), or by default to n fresh shoppers."""
        h = self.activity(len(appeal), rng) if activity is None else activity
        chance = -np.expm1(-h[:, None] * self.examination[None, :] * appeal)
        return rng.random(appeal.shape) < chance


def _exposure_for(rate: float, shape: float) -> float:
    """S such that 1 - (1 + S / shape)^(-shape) = rate."""
    return shape * ((1 - rate) ** (-1 / shape) - 1)


def plant(base_rate: float, lift: float, k: int = 10, activity_shape: float = 0.3) -> Shop:
    """The shop where A's list CTR is ``base_rate`` and B's is ``base_rate * (1 + lift)``."""
    if not 0 < base_rate * (1 + lift) < 1:
        raise ValueError("the lifted list CTR must lie in (0, 1)")
    examination = 1 / np.log2(np.arange(k) + 2.0)
    profile = 1 / np.sqrt(np.arange(k) + 1.0)
    unit = float(examination @ profile)
    appeal_a = profile * _exposure_for(base_rate, activity_shape) / unit
    appeal_b = profile * _exposure_for(base_rate * (1 + lift), activity_shape) / unit
    return Shop(examination, appeal_a, appeal_b, activity_shape)


@dataclass(frozen=True)
class Drafts:
    """Merged lists made by the library's ``team_draft`` from A's and B's item ids, one per seed: the teams per
    position, and the appeal of the item at each position in an A/B shop and in an A/A shop."""
    teams: np.ndarray  # (n_seeds, k) int8
    appeal_ab: np.ndarray  # (n_seeds, k)
    appeal_aa: np.ndarray  # (n_seeds, k)


def drafts(shop: Shop, n_seeds: int = 512) -> Drafts:
    """The library's merges for ``n_seeds`` recommendation ids; the simulation draws one per impression (the lists
    share no item, so every merge is one of 2^(k/2) coin patterns and a pool of 512 covers them)."""
    k = len(shop.examination)
    a_ids, b_ids = [f"a{r}" for r in range(k)], [f"b{r}" for r in range(k)]
    teams = np.zeros((n_seeds, k), np.int8)
    appeal_ab = np.zeros((n_seeds, k))
    appeal_aa = np.zeros((n_seeds, k))
    for s in range(n_seeds):
        merged, placed = team_draft(a_ids, b_ids, k, seed_of("simulated-recommendation", str(s)))
        ranks = [int(item[1:]) for item in merged]
        teams[s] = placed
        appeal_ab[s] = [(shop.appeal_b if t else shop.appeal_a)[r] for t, r in zip(placed, ranks, strict=True)]
        appeal_aa[s] = shop.appeal_a[ranks]
    return Drafts(teams, appeal_ab, appeal_aa)


def lists_per_shopper(n: int, mean: float, dispersion: float, rng: np.random.Generator) -> np.ndarray:
    """Lists each of n shoppers is shown: 1 + a negative binomial of mean ``mean - 1`` (a Poisson whose rate is
    gamma of shape ``dispersion``: heavy-tailed for small shapes, a few shoppers come back very often); ``mean``
    1 is one list each."""
    if mean <= 1:
        return np.ones(n, np.int64)
    rate = rng.gamma(dispersion, (mean - 1) / dispersion, size=n)
    return 1 + rng.poisson(rate)
