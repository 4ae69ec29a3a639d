"""Does the experiments library (``app.experiments``) find a planted winner, and only a planted one? A simulated
shop (``scripts.lib.shop``) whose variant B's lists get exactly ``--lift`` more clicked lists than A's; each run
replays an A/A and an A/B experiment by both methods through the library's own code: ``variant_of`` assigns the
shoppers (sticky: a returning shopper keeps the variant), ``team_draft`` merges, ``outcomes`` (``credit``'s rule)
counts, the sample-size functions plan and ``decide`` reads the verdict at the planned size.

Shoppers come back: each sees 1 + NegBin lists (``--lists-per-shopper`` mean, gamma ``--lists-dispersion`` of the
Poisson rate), all at the shopper's own activity. ``--lists-per-shopper 1`` is the shop of one list per shopper.
The A/B test is read two ways: the naive z-test over lists (figures without the per-shopper sums) and the
clustered one (with them: ``ab_test_clustered``), at three plans: the textbook one (design effect 1, no
history), the one with the design effect measured on a simulated week before the experiment (A's lists only, as
much traffic as the textbook A/B test shows), and the service's: that week's 80% upper confidence limit of it
(``design_effect_bound``). Interleaving is compared with the service's A/B plan.

    python -m scripts.simulate_experiments                           # 400 runs, base list CTR 0.05, lift 10%
    python -m scripts.simulate_experiments --lists-per-shopper 1     # one list per shopper
    python -m scripts.simulate_experiments --runs 100 --base-rate 0.2 --activity-shape 0.1 --json out.json
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.experiments import (
    NO_DIFFERENCE,
    ab_sample_size,
    decide,
    design_effect,
    design_effect_bound,
    interleaving_sample_size,
    outcomes,
    shopper_figures,
    variant_of,
)
from scripts.lib.shop import Drafts, Shop, drafts, lists_per_shopper, plant

EXPERIMENT = "simulated-ab"
FRACTIONS = (0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 1.0, 1.25)  # interleaving's sizes tried, in A/B's lists shown
PILOT = 200_000
TESTS = ("naive", "clustered")  # the z-test over lists; over shoppers (delta method)
PLANS = ("textbook", "measured_deff", "deff_bound")  # design effect 1; measured on the week before; its bound
SERVICE_PLAN = "deff_bound"  # what app.measure.experiments.history plans with


@dataclass(frozen=True)
class Shoppers:
    """How shoppers come back: mean lists per shopper and the gamma shape of its spread."""
    mean: float
    dispersion: float

    def draw(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return lists_per_shopper(n, self.mean, self.dispersion, rng)

    def stream(self, shop: Shop, lists: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """The shopper (0, 1, ...) and the shopper's activity of each of ``lists`` lists in arrival order."""
        sizes = self.draw(lists, rng)  # at least one list each: ``lists`` shoppers are enough
        n = int(np.searchsorted(np.cumsum(sizes), lists)) + 1
        who = np.repeat(np.arange(n), sizes[:n])[:lists]
        return who, shop.activity(n, rng)[who]


_ARMS: list[int] = []


def arms_of(n: int) -> np.ndarray:
    """The arms (0 = A, 1 = B) of shoppers 0 .. n-1 by ``variant_of`` (computed once, extended as needed)."""
    while len(_ARMS) < n:
        _ARMS.append(variant_of(EXPERIMENT, f"shopper-{len(_ARMS)}", [0.5, 0.5]))
    return np.array(_ARMS[:n], np.int8)


def figures(x: np.ndarray, y: np.ndarray, arms: np.ndarray, clustered: bool) -> dict:
    """Each arm's figures from its shoppers' lists ``x`` and clicked lists ``y``, with the per-shopper sums or
    without (then ``decide`` reads lists as independent trials)."""
    out = {}
    for arm, name in enumerate("AB"):
        xs, ys = x[arms == arm].astype(float), y[arms == arm].astype(float)
        f = {"impressions": int(xs.sum()), "clicks": int(ys.sum())}
        if clustered:
            f |= {"shoppers": len(xs), "lists_sq": int(xs @ xs), "clicks_sq": int(ys @ ys),
                  "clicks_lists": int(xs @ ys)}
        out[name] = f
    return out


def stop_at(x: np.ndarray, arms: np.ndarray, per_arm: int) -> int:
    """Shoppers taken, in arrival order, until both arms have shown ``per_arm`` lists."""
    ends = [int(np.searchsorted(np.cumsum(np.where(arms == arm, x, 0)), per_arm)) + 1 for arm in (0, 1)]
    return max(ends)


def pre_period(shop: Shop, shoppers: Shoppers, lists: int, rng: np.random.Generator) -> tuple[float, float]:
    """The design effect the service would measure on last week's ``lists`` lists of A (``design_effect``), and
    the 80% upper confidence limit it plans with (``design_effect_bound``)."""
    who, h = shoppers.stream(shop, lists, rng)
    clicked = shop.clicks(np.broadcast_to(shop.appeal_a, (lists, len(shop.appeal_a))), rng, h).any(axis=1)
    week = shopper_figures(np.bincount(who), np.bincount(who, clicked), spread=True)
    return design_effect(week), design_effect_bound(week)


def ab_run(shop: Shop, x: np.ndarray, arms: np.ndarray, appeal_of_arm: np.ndarray, cuts: dict[str, int],
           plans: dict[str, int], rng: np.random.Generator) -> dict[tuple[str, str], str]:
    """Verdicts of both tests at both plans; ``cuts`` is the shoppers taken at each plan."""
    n = max(cuts.values())
    x, arms = x[:n], arms[:n]
    who = np.repeat(np.arange(n), x)
    h = shop.activity(n, rng)[who]
    clicked = shop.clicks(appeal_of_arm[arms[who]], rng, h).any(axis=1)
    y = np.bincount(who, clicked, minlength=n)
    return {(test, plan): decide("ab", figures(x[:cuts[plan]], y[:cuts[plan]], arms[:cuts[plan]],
                                               test == "clustered"), plans[plan])
            for test in TESTS for plan in PLANS}


def interleaving_run(shop: Shop, shoppers: Shoppers, pool: Drafts, appeal: np.ndarray, sizes: list[int],
                     rng: np.random.Generator) -> list[str]:
    """Verdicts after each of ``sizes`` interleaved lists (each read as if it were the plan); every list shown is
    interleaved, returning shoppers' lists at their own activity."""
    n = max(sizes)
    merge = rng.integers(len(pool.teams), size=n)
    _, h = shoppers.stream(shop, n, rng)
    won = outcomes(pool.teams[merge], shop.clicks(appeal[merge], rng, h))
    wins_a, wins_b = np.cumsum(won < 0), np.cumsum(won > 0)
    return [decide("interleaving", {"A": {"impressions": n, "clicks": int(wins_a[n - 1])},
                                    "B": {"impressions": n, "clicks": int(wins_b[n - 1])}}, n) for n in sizes]


def clicks_per_clicked_list(shop: Shop, rng: np.random.Generator) -> float:
    """What the service would read from its logs before planning: mean clicks of A's lists that got any."""
    clicked = shop.clicks(np.tile(shop.appeal_a, (PILOT, 1)), rng)
    return float(clicked.sum() / max(1, clicked.any(axis=1).sum()))


def simulate(runs: int, seed: int, base_rate: float, lift: float, activity_shape: float, k: int = 10,
             lists_mean: float = 4.5, lists_dispersion: float = 0.5) -> dict:
    shop = plant(base_rate, lift, k, activity_shape)
    shoppers = Shoppers(lists_mean, lists_dispersion)
    pool = drafts(shop)
    c_bar = clicks_per_clicked_list(shop, np.random.default_rng([seed, 1 << 20]))
    textbook = ab_sample_size(base_rate, lift)
    week = 2 * textbook  # the week before: as many lists as the textbook A/B test shows
    deff_reference = pre_period(shop, shoppers, week, np.random.default_rng([seed, 1 << 21]))[1]
    reference_lists = 2 * ab_sample_size(base_rate, lift, design_effect=deff_reference)
    il_cautious = interleaving_sample_size(base_rate, lift)
    il_measured = interleaving_sample_size(base_rate, lift, clicks_per_clicked_list=c_bar)
    grid = [max(1, round(f * reference_lists)) for f in FRACTIONS]
    sizes = [il_cautious, il_measured, *grid]
    same = np.stack([shop.appeal_a, shop.appeal_a])
    better = np.stack([shop.appeal_a, shop.appeal_b])
    ab_false = {key: 0 for key in ((t, p) for t in TESTS for p in PLANS)}
    ab_found = dict(ab_false)
    deffs, bounds, planned, shown = [], [], [], []
    il_false = np.zeros(len(sizes))
    il_found = np.zeros(len(sizes))
    for r in range(runs):
        rng = np.random.default_rng([seed, r])
        deff, bound = pre_period(shop, shoppers, week, rng)
        plans = {"textbook": textbook, "measured_deff": ab_sample_size(base_rate, lift, design_effect=deff),
                 "deff_bound": ab_sample_size(base_rate, lift, design_effect=bound)}
        x = shoppers.draw(2 * max(plans.values()) + 1000, rng)
        arms = arms_of(len(x))
        cuts = {plan: stop_at(x, arms, n) for plan, n in plans.items()}
        deffs.append(deff)
        bounds.append(bound)
        planned.append((plans["measured_deff"], plans[SERVICE_PLAN]))
        shown.append((int(x[:cuts["measured_deff"]].sum()), int(x[:cuts[SERVICE_PLAN]].sum())))
        for verdict, key in ab_run(shop, x, arms, same, cuts, plans, rng).items():
            ab_false[verdict] += key != NO_DIFFERENCE
        for verdict, key in ab_run(shop, x, arms, better, cuts, plans, rng).items():
            ab_found[verdict] += key == "B"
        il_false += [v != NO_DIFFERENCE for v in interleaving_run(shop, shoppers, pool, pool.appeal_aa, sizes, rng)]
        il_found += [v == "B" for v in interleaving_run(shop, shoppers, pool, pool.appeal_ab, sizes, rng)]
    power = il_found / runs
    ab_lists = float(np.mean([s for _, s in shown]))
    reaching = [f for f, p in zip(FRACTIONS, power[2:], strict=True) if p >= 0.8]
    return {
        "shop": {"base_list_ctr": base_rate, "list_ctr_lift": lift, "item_appeal_lift": shop.item_lift - 1, "k": k,
                 "activity_shape": activity_shape, "clicks_per_clicked_list": c_bar,
                 "lists_per_shopper": lists_mean, "lists_dispersion": lists_dispersion},
        "runs": runs, "seed": seed,
        "ab": {"planned_textbook": textbook, "design_effect_mean": float(np.mean(deffs)),
               "design_effect_range": [float(np.min(deffs)), float(np.max(deffs))],
               "design_effect_bound_mean": float(np.mean(bounds)),
               "planned_measured_deff_mean": float(np.mean([p for p, _ in planned])),
               "planned_deff_bound_mean": float(np.mean([p for _, p in planned])),
               "lists_shown_measured_deff": float(np.mean([s for s, _ in shown])), "lists_shown_deff_bound": ab_lists,
               "reference_lists_for_grid": reference_lists,
               "aa_false": {f"{t}/{p}": ab_false[(t, p)] / runs for t in TESTS for p in PLANS},
               "power": {f"{t}/{p}": ab_found[(t, p)] / runs for t in TESTS for p in PLANS}},
        "interleaving": {
            "planned_single_click": il_cautious, "planned_measured_clicks": il_measured,
            "aa_false": dict(zip(["single_click", "measured_clicks"], (il_false[:2] / runs).tolist(), strict=True)),
            "power": dict(zip(["single_click", "measured_clicks"], power[:2].tolist(), strict=True)),
            "by_share_of_ab_lists": [{"share": f, "lists": n, "aa_false": a / runs, "power": p}
                                     for f, n, a, p in zip(FRACTIONS, grid, il_false[2:], power[2:], strict=True)],
            "smallest_share_with_80pct_power": min(reaching) if reaching else None,
        },
        "ratio_planned_single_click": il_cautious / ab_lists, "ratio_planned_measured_clicks": il_measured / ab_lists,
    }


def table(result: dict) -> str:
    s, ab, il = result["shop"], result["ab"], result["interleaving"]
    lo, hi = ab["design_effect_range"]
    ab_lists = ab["lists_shown_deff_bound"]
    lines = [
        f"shop: A's list CTR {s['base_list_ctr']:.3f}, B's +{s['list_ctr_lift']:.1%} (item appeal "
        f"+{s['item_appeal_lift']:.1%}), k={s['k']}, activity shape {s['activity_shape']}, "
        f"{s['clicks_per_clicked_list']:.3f} clicks per clicked list, {s['lists_per_shopper']} lists per shopper "
        f"(dispersion {s['lists_dispersion']}); {result['runs']} runs, seed {result['seed']}",
        f"design effect measured on the week before: mean {ab['design_effect_mean']:.2f} "
        f"(runs {lo:.2f}-{hi:.2f}), its 80% upper limit {ab['design_effect_bound_mean']:.2f}; A/B plan per arm: "
        f"textbook {ab['planned_textbook']:,}, with it {ab['planned_measured_deff_mean']:,.0f}, with its limit "
        f"{ab['planned_deff_bound_mean']:,.0f} on average",
        f"{'method':<58}{'lists shown':>12}{'vs A/B':>8}{'A/A false':>11}{'finds B':>9}",
    ]
    shown = {"textbook": 2 * ab["planned_textbook"], "measured_deff": ab["lists_shown_measured_deff"],
             "deff_bound": ab_lists}
    for plan, label in (("textbook", "textbook plan"), ("measured_deff", "plan x measured deff"),
                        ("deff_bound", "plan x its 80% limit (the service's)")):
        for test in TESTS:
            key = f"{test}/{plan}"
            n = shown[plan]
            lines.append(f"{'A/B ' + test + ' test, ' + label:<58}{n:>12,.0f}{n / ab_lists:>8.2f}"
                         f"{ab['aa_false'][key]:>11.3f}{ab['power'][key]:>9.3f}")
    for key, label in (("single_click", "one click per list"), ("measured_clicks", "measured clicks")):
        n = il["planned_" + key]
        lines.append(f"{'interleaving, planned (' + label + ')':<58}{n:>12,}{n / ab_lists:>8.2f}"
                     f"{il['aa_false'][key]:>11.3f}{il['power'][key]:>9.3f}")
    for row in il["by_share_of_ab_lists"]:
        lines.append(f"{'interleaving at ' + format(row['share'], '.3g') + ' x A/B lists':<58}{row['lists']:>12,}"
                     f"{row['lists'] / ab_lists:>8.2f}{row['aa_false']:>11.3f}{row['power']:>9.3f}")
    lines.append(f"smallest share of A/B's lists (clustered test, the service's plan) at which interleaving finds "
                 f"B in >= 80% of runs: {il['smallest_share_with_80pct_power']}")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=400)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--base-rate", type=float, default=0.05, help="A's share of lists with a click")
    p.add_argument("--lift", type=float, default=0.10, help="B's relative lift in that share")
    p.add_argument("--activity-shape", type=float, default=0.3, help="gamma shape of shopper activity")
    p.add_argument("--lists-per-shopper", type=float, default=4.5,
                   help="mean lists a shopper is shown (1 + negative binomial); 1: one list each")
    p.add_argument("--lists-dispersion", type=float, default=0.5,
                   help="gamma shape of the Poisson rate of a shopper's further lists (small: heavy tail)")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    start = time.perf_counter()
    result = simulate(args.runs, args.seed, args.base_rate, args.lift, args.activity_shape, args.k,
                      args.lists_per_shopper, args.lists_dispersion)
    result["seconds"] = round(time.perf_counter() - start, 1)
    print(table(result))
    print(f"({result['seconds']} s)")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
