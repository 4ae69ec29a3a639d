"""Team-draft interleaving: the draft's invariants over many seeds, and the credit rule."""

import random

import numpy as np

from app.experiments import credit, outcomes, team_draft


def _check_draft(a, b, k, seed):
    merged, teams = team_draft(a, b, k, seed)
    assert len(merged) == len(teams) == min(k, len(set(a) | set(b)))
    assert len(set(merged)) == len(merged)  # no duplicates
    for team, ranking in ((0, a), (1, b)):
        mine = [item for item, t in zip(merged, teams, strict=True) if t == team]
        assert all(item in ranking for item in mine)
        assert mine == sorted(mine, key=ranking.index)  # each team's picks keep its own order
        for item in mine:  # and each pick was the team's best item not taken before it
            before = set(merged[:merged.index(item)])
            assert item == next(x for x in ranking if x not in before)
    return merged, teams


def test_draft_invariants_over_random_overlapping_lists():
    rng = random.Random(0)
    catalog = [f"i{n}" for n in range(30)]
    for seed in range(300):
        a, b = rng.sample(catalog, 10), rng.sample(catalog, 10)
        merged, teams = _check_draft(a, b, 10, seed)
        assert abs(teams.count(0) - teams.count(1)) <= 1  # both lists long enough: sizes differ by at most 1


def test_same_seed_same_merge_and_both_teams_lead_equally_often():
    a, b = [f"a{n}" for n in range(10)], [f"b{n}" for n in range(10)]
    assert team_draft(a, b, 10, 42) == team_draft(a, b, 10, 42)
    assert team_draft(a, b, 10, 42) == team_draft(a, b, 10, random.Random(42))
    first = [team_draft(a, b, 10, seed)[1][0] for seed in range(4000)]
    assert 0.46 < np.mean(first) < 0.54
    assert len({tuple(team_draft(a, b, 10, seed)[1]) for seed in range(4000)}) == 32  # 2^(k/2) coin patterns


def test_exhausted_list_lets_the_other_fill_and_shared_items_count_once():
    merged, teams = team_draft(["x"], ["y", "z", "w"], 4, 1)
    assert sorted(merged) == ["w", "x", "y", "z"] and teams.count(0) == 1
    merged, teams = team_draft(["x", "y"], ["x", "y"], 5, 3)
    assert merged == ["x", "y"] and sorted(teams) == [0, 1]
    assert team_draft(["a", "b", "c"], ["d"], 2, 0)[0].__len__() == 2


def test_credit_counts_clicks_per_team():
    teams = [0, 1, 0, 1, 1]
    assert credit(teams, []) == (0, 0)
    assert credit(teams, [1]) == (0, 1)
    assert credit(teams, [0, 2, 1]) == (1, 0)
    assert credit(teams, [0, 1]) == (0, 0)  # a tie
    assert credit(teams, [1, 1, 0]) == (0, 0)  # a double click counts once
    assert credit(teams, [0, 9, -1]) == (1, 0)  # positions outside the list are ignored


def test_outcomes_is_credit_for_many_lists():
    rng = np.random.default_rng(1)
    teams = rng.integers(0, 2, size=(500, 6))
    clicked = rng.random((500, 6)) < 0.3
    won = outcomes(teams, clicked)
    for row in range(500):
        wins_a, wins_b = credit(teams[row].tolist(), np.flatnonzero(clicked[row]).tolist())
        assert won[row] == wins_b - wins_a
