"""The simulated shop plants what it says, and the library, run through it, finds the planted winner at the
planned sizes without finding winners in A/A runs (small runs: loose bounds for 40-60 runs); with returning
shoppers the z-test over lists finds false winners and the clustered test does not."""

import numpy as np
import pytest

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
    result = simulate(runs=60, seed=7, base_rate=0.2, lift=0.10, activity_shape=0.3, lists_mean=1)
    ab, il = result["ab"], result["interleaving"]
    assert ab["design_effect_mean"] == pytest.approx(1.0)  # one list per shopper: the binomial variance
    assert ab["planned_measured_deff_mean"] == ab["planned_textbook"]
    assert ab["planned_textbook"] < ab["planned_deff_bound_mean"] < 1.02 * ab["planned_textbook"]
    for test in ("naive", "clustered"):
        assert ab["aa_false"][f"{test}/measured_deff"] <= 0.15 and ab["power"][f"{test}/measured_deff"] >= 0.6
    assert il["aa_false"]["measured_clicks"] <= 0.15 and il["power"]["measured_clicks"] >= 0.6
    assert il["power"]["single_click"] >= 0.6
    assert il["planned_measured_clicks"] < ab["lists_shown_deff_bound"]  # fewer lists than both A/B arms
    half = next(row for row in il["by_share_of_ab_lists"] if row["share"] == 0.5)
    assert half["power"] >= 0.6


def test_returning_shoppers_inflate_the_naive_test_and_not_the_clustered_one():
    result = simulate(runs=40, seed=7, base_rate=0.2, lift=0.10, activity_shape=0.3, lists_mean=4.5)
    ab, il = result["ab"], result["interleaving"]
    assert ab["design_effect_mean"] > 2  # an active shopper clicks many of their lists
    naive, clustered = ab["aa_false"]["naive/measured_deff"], ab["aa_false"]["clustered/measured_deff"]
    assert clustered <= 0.125 and ab["aa_false"]["clustered/textbook"] <= 0.125
    assert naive >= 0.2 and naive >= clustered + 0.1  # lists of one shopper taken as independent trials
    assert ab["power"]["clustered/measured_deff"] >= 0.6
    assert ab["power"]["clustered/textbook"] < ab["power"]["clustered/measured_deff"]  # no history: underpowered
    assert ab["design_effect_bound_mean"] > ab["design_effect_mean"]
    assert ab["planned_deff_bound_mean"] > ab["planned_measured_deff_mean"]
    assert ab["aa_false"]["clustered/deff_bound"] <= 0.125 and ab["power"]["clustered/deff_bound"] >= 0.6
    assert il["aa_false"]["measured_clicks"] <= 0.15 and il["power"]["measured_clicks"] >= 0.6
    half = next(row for row in il["by_share_of_ab_lists"] if row["share"] == 0.5)
    assert half["power"] >= 0.6
