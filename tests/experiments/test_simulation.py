"""The simulated shop plants what it says, and the library, run through it, finds the planted winner at the
planned sizes without finding winners in A/A runs (a small run: loose bounds for 60 runs)."""

import numpy as np

from scripts.lib.shop import drafts, plant
from scripts.simulate_experiments import simulate


def test_the_shop_plants_the_list_ctr_and_its_lift():
    shop = plant(0.2, 0.10, k=10, activity_shape=0.3)
    rng = np.random.default_rng(0)
    n = 300_000
    a = shop.clicks(np.tile(shop.appeal_a, (n, 1)), rng).any(axis=1).mean()
    b = shop.clicks(np.tile(shop.appeal_b, (n, 1)), rng).any(axis=1).mean()
    assert abs(a - 0.2) < 0.003 and abs(b / a - 1.10) < 0.02
    pool = drafts(shop, n_seeds=64)
    assert set(np.abs(pool.teams.sum(axis=1) - 5).tolist()) == {0}  # five picks each
    top_five_twice = np.sort(np.concatenate([shop.appeal_a[:5], shop.appeal_a[:5]]))
    assert np.allclose(np.sort(pool.appeal_aa, axis=1), top_five_twice)  # each team places its own top five


def test_small_simulation_finds_the_planted_winner_and_interleaving_needs_fewer_lists():
    result = simulate(runs=60, seed=7, base_rate=0.2, lift=0.10, activity_shape=0.3)
    ab, il = result["ab"], result["interleaving"]
    assert ab["aa_false"] <= 0.15 and ab["power"] >= 0.6
    assert il["aa_false"]["measured_clicks"] <= 0.15 and il["power"]["measured_clicks"] >= 0.6
    assert il["power"]["single_click"] >= 0.6
    assert il["planned_measured_clicks"] < ab["lists_shown"]  # fewer lists shown than both A/B arms together
    half = next(row for row in il["by_share_of_ab_lists"] if row["share"] == 0.5)
    assert half["power"] >= 0.6
