"""The Wilson score interval of a proportion: unlike the normal approximation it stays inside [0, 1] and is
honest for the small counts and rates near 0 that click-through rates are (Wilson 1927; Agresti & Coull 1998)."""

import math

Z95 = 1.959963984540054  # the standard normal's 97.5% quantile


def wilson(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """The 95% (by default) interval of ``successes / trials``; (0, 1) when there were no trials."""
    if trials <= 0:
        return 0.0, 1.0
    p = successes / trials
    z2 = z * z
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = z / (1 + z2 / trials) * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials))
    return max(0.0, centre - half), min(1.0, centre + half)
