"""The verdict of an experiment from the service's counts, read only once the planned sample is reached.

The unit of trial is a recommendation list shown, for both methods. In an A/B test a list is a success when it
got at least one click (``metric="clicks"``) or at least one purchase (``metric="purchases"``) attributed to it;
per-item impressions would count the ten items of one list as ten independent trials, but the clicks of one
shopper on one list are not independent (a shopper who is browsing clicks several), so the z-test's variance
would be too small and false winners too frequent. Counting lists also makes the two methods comparable: both
plans and both tallies are in lists shown.

``figures`` is what the service keeps per variant, in the experiment's variant order (first = a, second = b):

- A/B: ``{"impressions": lists of this variant shown, "clicks": those with >= 1 click, "purchases": those with
  >= 1 purchase}``; ``planned`` is lists per variant (``ab_sample_size``), reached when every variant has it.
  Optional per-shopper sums (``shoppers``, ``lists_sq``, ``clicks_sq``, ``clicks_lists``, ``purchases_sq``,
  ``purchases_lists``; see ``ab_test_clustered``): when both variants carry those of the metric, the test counts
  shoppers as the independent unit (delta method), which sticky assignment of returning shoppers needs; without
  them it is the z-test over lists, right only when every shopper sees one list.
- interleaving: ``{"impressions": interleaved lists shown (the same lists for both), "clicks": lists this
  variant won by clicks (``credit``), "purchases": lists it won by purchases}``; ``planned`` is lists in all
  (``interleaving_sample_size``)."""

from __future__ import annotations

from collections.abc import Mapping

from app.experiments.stats import ab_test, ab_test_clustered, has_shopper_sums, interleaving_test

NONE_YET = "none yet"
NO_DIFFERENCE = "no difference"
METHODS = ("ab", "interleaving")


def reached(method: str, figures: Mapping[str, Mapping[str, int]]) -> int:
    """Lists shown so far in the unit ``planned`` is given in: the smallest arm for A/B, all lists for
    interleaving."""
    shown = [int(f.get("impressions", 0)) for f in figures.values()]
    return min(shown) if method == "ab" else max(shown)


def decide(method: str, figures: Mapping[str, Mapping[str, int]], planned: int, metric: str = "clicks",
           alpha: float = 0.05) -> str:
    """``"none yet"`` until ``planned`` lists are reached (no peeking), then the winning variant's name if the
    test's p-value is below ``alpha``, else ``"no difference"``. Exactly two variants (team-draft interleaving
    is pairwise; for more A/B variants, correct alpha for the number of comparisons and decide per pair). A/B figures
    with the per-shopper sums of ``metric`` in both variants go through ``ab_test_clustered``, others through
    ``ab_test``."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if len(figures) != 2:
        raise ValueError(f"decide compares two variants, got {len(figures)}")
    if reached(method, figures) < planned:
        return NONE_YET
    (name_a, a), (name_b, b) = figures.items()
    if method == "ab" and has_shopper_sums(a, metric) and has_shopper_sums(b, metric):
        result = ab_test_clustered(a, b, metric)
        b_better = result["difference"] > 0
    elif method == "ab":
        result = ab_test(int(a.get(metric, 0)), int(a["impressions"]), int(b.get(metric, 0)), int(b["impressions"]))
        b_better = result["difference"] > 0
    else:
        result = interleaving_test(int(a.get(metric, 0)), int(b.get(metric, 0)))
        b_better = result["share_b"] > 0.5
    if result["p_value"] >= alpha:
        return NO_DIFFERENCE
    return name_b if b_better else name_a
