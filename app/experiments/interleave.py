"""Team-draft interleaving (Radlinski, Kurup & Joachims 2008, "How does clickthrough data reflect retrieval
quality?"; validated at scale by Chapelle, Joachims, Radlinski & Yue 2012).

Instead of showing half the shoppers A's list and half B's, every shopper sees one list merged from both; each
item remembers which variant ("team") placed it, and the shopper's clicks vote for the teams. Comparing within
one list removes the differences between shoppers (a keen shopper clicks more in either variant), which is where
an A/B test spends most of its traffic.

The draft: like captains picking players, the team with fewer picks so far picks next (a coin decides ties), and
it takes its highest-ranked item that is not in the merged list yet. A team whose list is exhausted stops picking.
The coin makes each team equally likely to get the top slot, so neither is favoured by position."""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np

A, B = 0, 1


def _rng(rng_or_seed: int | random.Random) -> random.Random:
    return rng_or_seed if isinstance(rng_or_seed, random.Random) else random.Random(rng_or_seed)


def team_draft(a: Sequence[str], b: Sequence[str], k: int,
               rng_or_seed: int | random.Random) -> tuple[list[str], list[int]]:
    """The merged list of at most ``k`` items from rankings ``a`` and ``b``, and for each position the team that
    placed it (0 = a, 1 = b). The same seed gives the same merge (``random.Random(seed)`` is stable across Python
    runs); the service passes ``seed_of(recommendation_id)``."""
    rng = _rng(rng_or_seed)
    lists = (list(a), list(b))
    merged: list[str] = []
    teams: list[int] = []
    taken: set[str] = set()
    picks = [0, 0]
    cursor = [0, 0]

    def next_free(team: int) -> str | None:
        ranking = lists[team]
        while cursor[team] < len(ranking) and ranking[cursor[team]] in taken:
            cursor[team] += 1
        return ranking[cursor[team]] if cursor[team] < len(ranking) else None

    while len(merged) < k:
        free = [next_free(A), next_free(B)]
        if free[A] is None and free[B] is None:
            break
        if free[A] is None or free[B] is None:
            team = B if free[A] is None else A
        elif picks[A] != picks[B]:
            team = A if picks[A] < picks[B] else B
        else:
            team = B if rng.random() < 0.5 else A
        item = free[team]
        merged.append(item)
        teams.append(team)
        taken.add(item)
        picks[team] += 1
    return merged, teams


def outcomes(teams: np.ndarray, clicked: np.ndarray) -> np.ndarray:
    """Per impression list (rows of equal length), who won: +1 when b's items got more clicks, -1 when a's did,
    0 for a tie (including no click). ``teams`` holds 0/1 per position (-1 or anything else for an empty slot)
    and ``clicked`` is boolean of the same shape. This is the one counting rule; ``credit`` and the simulation
    both use it."""
    teams, clicked = np.asarray(teams), np.asarray(clicked, dtype=bool)
    for_b = (clicked & (teams == B)).sum(axis=-1)
    for_a = (clicked & (teams == A)).sum(axis=-1)
    return np.sign(for_b - for_a).astype(np.int8)


def credit(teams: Sequence[int], clicked_positions: Sequence[int]) -> tuple[int, int]:
    """``(wins_a, wins_b)`` for one impression list: ``(1, 0)``, ``(0, 1)`` or ``(0, 0)`` for a tie or no
    click. ``clicked_positions`` are 0-based positions in the merged list; a position clicked twice counts once
    (a double click is not a stronger vote), and positions outside the list are ignored."""
    clicked = np.zeros(len(teams), dtype=bool)
    positions = [p for p in clicked_positions if 0 <= p < len(teams)]
    clicked[positions] = True
    won = int(outcomes(np.asarray(teams, dtype=np.int64), clicked))
    return int(won < 0), int(won > 0)
