"""``rules.pool_size``: boosts alone reorder a shorter pool with the same answer as the full one; every other
rule keeps the full pool. Checked on random scored lists against ``rules.apply`` over the full pool."""

from types import SimpleNamespace

import numpy as np
import pytest

from app.recommender import rules
from app.recommender.rules import POOL, Rule, RuleSet


def catalog(n_items: int, n_categories: int, rng) -> SimpleNamespace:
    return SimpleNamespace(category_codes=rng.integers(0, n_categories, n_items),
                           categories={f"c{c}": c for c in range(n_categories)},
                           item_ids=[f"i{p}" for p in range(n_items)], positions={f"i{p}": p for p in range(n_items)})


def boost(rule_id: str, factor: float, category: str | None = None, item_ids=None, action="boost") -> Rule:
    return Rule(rule_id, action, item_category=category, factor=factor,
                item_ids=frozenset(item_ids) if item_ids is not None else None)


def test_boosts_alone_give_the_full_pools_answer_from_a_shorter_pool():
    rng = np.random.default_rng(7)
    shorter = 0
    for trial in range(400):
        n_items, k = 400, int(rng.integers(1, 31))
        cat = catalog(n_items, int(rng.integers(1, 8)), rng)
        order = rng.permutation(n_items)  # the scored list, best first
        scores = np.sort(rng.normal(size=n_items))[::-1]
        if trial % 3 == 0:
            scores = np.round(scores, 1)  # ties in the scores
        live = tuple(boost(f"r{j}", float(rng.choice([1.0, 1.5, 2.0, 3.7, 8.0])),
                           category=f"c{int(rng.integers(0, 8))}" if j % 2 == 0 else None,
                           item_ids=None if j % 2 == 0 else [f"i{p}" for p in rng.choice(n_items, 20)],
                           action=("boost", "bury")[j % 2]) for j in range(int(rng.integers(1, 4))))
        eligible = np.ones(n_items, bool)
        full, short = max(4 * k, POOL), rules.pool_size(k, live)
        assert short <= full
        shorter += short < full
        want = rules.apply(RuleSet(), live, cat, order[:full], scores[:full], eligible, k)
        got = rules.apply(RuleSet(), live, cat, order[:short], scores[:short], eligible, k)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
        assert set(got[3]) <= set(want[3])  # a rule acts only where it can reach the list
    assert shorter > 200  # the short pool was the one tested, not the full one again


@pytest.mark.parametrize("live", [
    (boost("b", 2.0, "c1"), boost("down", 0.5, "c2")),  # a factor under 1 lifts every other item
    (boost("b", 2.0, "c1"), Rule("p", "promote", item_category="c1", share=0.5)),
    (Rule("pin", "pin", item_ids=frozenset({"i3"}), position=2),),
    (boost("huge", 1000.0, "c1"),),  # past the full pool: the full pool
])
def test_any_other_rule_keeps_the_full_pool(live):
    assert rules.pool_size(10, live) == max(40, POOL)


def test_without_rules_the_full_pool():
    assert rules.pool_size(10) == max(40, POOL) and rules.pool_size(50) == 200
