"""What the evaluation scripts compute from their runs: the spread over training seeds, and how much of a planted
context effect the served lists carry."""

import math

import pytest

from scripts.evaluate_context import carried, planted_effects
from scripts.evaluate_service import spread_table


def test_the_seed_spread_is_over_every_run_that_succeeded():
    report = {"results": {"shop": {"P3": {"recall@10": 0.2, "ndcg@10": 0.30,
                                          "seeds": {"1": {"recall@10": 0.3, "ndcg@10": 0.34},
                                                    "2": {"error": "training job failed"}}},
                                   "P2": {"recall@10": 0.1, "ndcg@10": 0.2}}}}  # no seeds: no spread row
    rows = [r for r in spread_table(report) if r.startswith("| shop")]
    assert len(rows) == 2
    cells = [c.strip() for c in rows[1].split("|")[1:-1]]
    assert cells[:4] == ["shop", "P3", "ndcg@10", "2 (0 (default), 1)"]
    assert [float(c) for c in cells[4:]] == pytest.approx([0.32, 0.02 * math.sqrt(2), 0.30, 0.34], abs=1e-4)
    assert spread_table({"results": {"shop": {"P2": {"recall@10": 0.1, "ndcg@10": 0.2}}}}) == []


def test_a_list_that_leans_as_planted_carries_the_whole_effect_and_one_that_does_not_none():
    planted = planted_effects()["lean_by_device"]  # coffee 2x on phones, books 2.5x on desktops, ...
    as_planted = {c: {"mobile": 0.1 * planted["mobile"].get(c, 1.0), "desktop": 0.1 * planted["desktop"].get(c, 1.0)}
                  for c in ("coffee", "snacks", "books", "toys", "wine")}
    assert carried(as_planted, planted) == pytest.approx(1.0)
    halfway = {c: {"mobile": v["mobile"] ** 0.5, "desktop": v["desktop"] ** 0.5} for c, v in as_planted.items()}
    assert carried(halfway, planted) == pytest.approx(0.5)
    flat = {c: {"mobile": 0.2, "desktop": 0.2} for c in as_planted}
    assert carried(flat, planted) == 0.0
