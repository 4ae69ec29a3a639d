"""Does the experiments library (``app.experiments``) find a planted winner, and only a planted one? A simulated
shop (``scripts.lib.shop``) whose variant B's lists get exactly ``--lift`` more clicked lists than A's; each run
replays an A/A and an A/B experiment by both methods through the library's own code: ``variant_of`` assigns the
shoppers, ``team_draft`` merges, ``outcomes`` (``credit``'s rule) counts, the sample-size functions plan and
``decide`` reads the verdict at the planned size.

    python -m scripts.simulate_experiments                           # 400 runs, base list CTR 0.05, lift 10%
    python -m scripts.simulate_experiments --runs 100 --base-rate 0.2 --activity-shape 0.1 --json out.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from app.experiments import NO_DIFFERENCE, ab_sample_size, decide, interleaving_sample_size, outcomes, variant_of
from scripts.lib.shop import Drafts, Shop, drafts, plant

EXPERIMENT = "simulated-ab"
FRACTIONS = (0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 1.0, 1.25)  # interleaving's sizes tried, in A/B's lists shown
PILOT = 200_000


def arrivals(per_arm: int) -> np.ndarray:
    """The arms (0 = A, 1 = B) of shoppers 0, 1, 2, ... by ``variant_of``, up to the one at which both arms have
    ``per_arm`` lists: the A/B test stops there."""
    arms, counts, i = [], [0, 0], 0
    while min(counts) < per_arm:
        arm = variant_of(EXPERIMENT, f"shopper-{i}", [0.5, 0.5])
        arms.append(arm)
        counts[arm] += 1
        i += 1
    return np.array(arms, np.int8)


def ab_run(shop: Shop, arms: np.ndarray, appeal_of_arm: np.ndarray, planned: int, rng: np.random.Generator) -> str:
    clicked_lists = shop.clicks(appeal_of_arm[arms], rng).any(axis=1)
    figures = {name: {"impressions": int((arms == arm).sum()), "clicks": int(clicked_lists[arms == arm].sum())}
               for arm, name in enumerate("AB")}
    return decide("ab", figures, planned)


def interleaving_run(shop: Shop, pool: Drafts, appeal: np.ndarray, sizes: list[int],
                     rng: np.random.Generator) -> list[str]:
    """Verdicts after each of ``sizes`` interleaved lists (each read as if it were the plan)."""
    merge = rng.integers(len(pool.teams), size=max(sizes))
    won = outcomes(pool.teams[merge], shop.clicks(appeal[merge], rng))
    wins_a, wins_b = np.cumsum(won < 0), np.cumsum(won > 0)
    return [decide("interleaving", {"A": {"impressions": n, "clicks": int(wins_a[n - 1])},
                                    "B": {"impressions": n, "clicks": int(wins_b[n - 1])}}, n) for n in sizes]


def clicks_per_clicked_list(shop: Shop, rng: np.random.Generator) -> float:
    """What the service would read from its logs before planning: mean clicks of A's lists that got any."""
    clicked = shop.clicks(np.tile(shop.appeal_a, (PILOT, 1)), rng)
    return float(clicked.sum() / max(1, clicked.any(axis=1).sum()))


def simulate(runs: int, seed: int, base_rate: float, lift: float, activity_shape: float, k: int = 10) -> dict:
    shop = plant(base_rate, lift, k, activity_shape)
    pool = drafts(shop)
    c_bar = clicks_per_clicked_list(shop, np.random.default_rng([seed, 1 << 20]))
    ab_plan = ab_sample_size(base_rate, lift)
    il_cautious = interleaving_sample_size(base_rate, lift)
    il_measured = interleaving_sample_size(base_rate, lift, clicks_per_clicked_list=c_bar)
    arms = arrivals(ab_plan)
    ab_lists = len(arms)
    grid = [max(1, round(f * ab_lists)) for f in FRACTIONS]
    sizes = [il_cautious, il_measured, *grid]
    same = np.stack([shop.appeal_a, shop.appeal_a])
    better = np.stack([shop.appeal_a, shop.appeal_b])
    ab_false = ab_found = 0
    il_false = np.zeros(len(sizes))
    il_found = np.zeros(len(sizes))
    for r in range(runs):
        rng = np.random.default_rng([seed, r])
        ab_false += ab_run(shop, arms, same, ab_plan, rng) != NO_DIFFERENCE
        ab_found += ab_run(shop, arms, better, ab_plan, rng) == "B"
        il_false += [v != NO_DIFFERENCE for v in interleaving_run(shop, pool, pool.appeal_aa, sizes, rng)]
        il_found += [v == "B" for v in interleaving_run(shop, pool, pool.appeal_ab, sizes, rng)]
    power = il_found / runs
    reaching = [f for f, p in zip(FRACTIONS, power[2:], strict=True) if p >= 0.8]
    return {
        "shop": {"base_list_ctr": base_rate, "list_ctr_lift": lift, "item_appeal_lift": shop.item_lift - 1, "k": k,
                 "activity_shape": activity_shape, "clicks_per_clicked_list": c_bar},
        "runs": runs, "seed": seed,
        "ab": {"planned_per_arm": ab_plan, "lists_shown": ab_lists, "aa_false": ab_false / runs,
               "power": ab_found / runs},
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
    lines = [
        f"shop: A's list CTR {s['base_list_ctr']:.3f}, B's +{s['list_ctr_lift']:.1%} (item appeal "
        f"+{s['item_appeal_lift']:.1%}), k={s['k']}, activity shape {s['activity_shape']}, "
        f"{s['clicks_per_clicked_list']:.3f} clicks per clicked list; {result['runs']} runs, seed {result['seed']}",
        f"{'method':<44}{'lists shown':>12}{'vs A/B':>8}{'A/A false':>11}{'finds B':>9}",
        f"{'A/B, planned ' + format(ab['planned_per_arm'], ',') + ' per arm':<44}{ab['lists_shown']:>12,}"
        f"{1:>8.2f}{ab['aa_false']:>11.3f}{ab['power']:>9.3f}",
    ]
    for key, label in (("single_click", "one click per list"), ("measured_clicks", "measured clicks")):
        n = il["planned_" + key]
        lines.append(f"{'interleaving, planned (' + label + ')':<44}{n:>12,}{n / ab['lists_shown']:>8.2f}"
                     f"{il['aa_false'][key]:>11.3f}{il['power'][key]:>9.3f}")
    for row in il["by_share_of_ab_lists"]:
        lines.append(f"{'interleaving at ' + format(row['share'], '.3g') + ' x A/B lists':<44}{row['lists']:>12,}"
                     f"{row['share']:>8.2f}{row['aa_false']:>11.3f}{row['power']:>9.3f}")
    lines.append(f"smallest share of A/B's lists at which interleaving finds B in >= 80% of runs: "
                 f"{il['smallest_share_with_80pct_power']}")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=400)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--base-rate", type=float, default=0.05, help="A's share of lists with a click")
    p.add_argument("--lift", type=float, default=0.10, help="B's relative lift in that share")
    p.add_argument("--activity-shape", type=float, default=0.3, help="gamma shape of shopper activity")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    start = time.perf_counter()
    result = simulate(args.runs, args.seed, args.base_rate, args.lift, args.activity_shape, args.k)
    result["seconds"] = round(time.perf_counter() - start, 1)
    print(table(result))
    print(f"({result['seconds']} s)")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
