"""Merchandising rules over a scored list: the shop's boosts, burials, pins and promotions.

Rules act after scoring, on a pool of the best eligible items (``pool_size``: max(4k, 100), or as far down as
boosts alone can reach the list), and only ever on eligible ones: the request's filters, availability and the
seen items have removed the rest before any rule runs, so no rule can bring an item back. In one fixed order,
so an answer is a pure function of the pool:

1. ``boost`` / ``bury``: every item's standing is 1 / its rank in the pool (1-based); a matching item's is
   multiplied by the rule's ``factor`` (factor 2 moves an item from rank r to about r / 2), and the pool is
   sorted again by standing (ties keep the scored order).
2. ``promote``: the first floor(share · k) slots go to the best-ranked matching items of the pool (rules in
   rule_id order, each after the slots of the ones before).
3. ``pin``: the one item goes to ``position`` (1-based) when it is eligible and the list reaches that
   position; at one position the first by rule_id holds it and the next follow. A pinned item from beyond
   the pool carries the pool's lowest score (its own is at most that).

An item a rule placed says so in ``because``; the answer lists the rules that acted (those that matched an
item of the pool, filled a slot, or pinned their item; for boosts alone the pool ends where the list's reach
does). ``score`` stays the scoring's.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass

import numpy as np

from app.recommender.catalog import value_key

ROUTES = ("recommendations", "similar", "session", "bought_together", "trending")
PINNED, PROMOTED = "pinned by the shop", "promoted"
POOL = 100  # rules reorder the top max(4k, POOL) scored items


def pool_size(k: int, live: tuple[Rule, ...] = ()) -> int:
    """How many of the best scored items the rules ``live`` reorder: max(4k, ``POOL``); for boosts alone
    (``boost`` or ``bury`` with every factor at least 1) only the ceil(F·k) best, F the product of the factors
    (an item several rules match is lifted by each). After such rules each of the scored top k stands at 1/k
    or higher, and an item ranked r past F·k at F/r, below 1/k (at F·k exactly, a tie the better-scored
    keeps): none from past it can reach the k. So the answer is the one the full pool gives, from a search for
    about 2k items instead of 100 (docs/serving.md, fifth round)."""
    full = max(4 * k, POOL)
    if live and all(r.action in ("boost", "bury") and r.factor >= 1 for r in live):
        return min(full, max(k, math.ceil(math.prod(r.factor for r in live) * k)))
    return full


def needed(k: int, live: tuple[Rule, ...]) -> int:
    """How many of the best scored items a list of k must search for: k with no rule in force, else the rules'
    pool (``pool_size``)."""
    return pool_size(k, live) if live else k


@dataclass(frozen=True)
class Rule:
    rule_id: str
    action: str  # boost | bury | pin | promote
    route: str | None = None  # when: the list route; None: every one
    category: str | None = None  # when: the request's category filter
    segment: int | None = None  # when: the user's segment in the served version
    item_category: str | None = None  # items: their category
    attributes: tuple[tuple[str, object], ...] | None = None  # items: attribute values they all have
    item_ids: frozenset[str] | None = None  # items: these ids
    factor: float = 1.0
    position: int = 1
    share: float = 0.0
    starts_at: float | None = None  # epoch seconds
    ends_at: float | None = None

    def applies(self, route: str, categories: tuple[str, ...] | None, segment: int | None, now: float) -> bool:
        """Whether the rule acts on a list of ``route`` asked with these category filters (any of them) for a
        user of ``segment``, at ``now``."""
        return (self.route is None or self.route == route) and \
            (self.category is None or (categories is not None and self.category in categories)) and \
            (self.segment is None or self.segment == segment) and \
            (self.starts_at is None or self.starts_at <= now) and (self.ends_at is None or now < self.ends_at)


@dataclass(frozen=True)
class RuleSet:
    """The active rules, as the served state holds them (``app.recommender.rule_reads``)."""

    rules: tuple[Rule, ...] = ()
    boundaries: tuple[float, ...] = ()  # every start and end, sorted: the rules in force change only there

    def matching(self, route: str, categories: tuple[str, ...] | None, segment: int | None, now: float
                 ) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.applies(route, categories, segment, now))

    def phase(self, now: float) -> int:
        """Which stretch between two boundaries ``now`` is in: a kept answer is keyed by it, so a rule that
        starts or ends makes the next request compute afresh."""
        return bisect_right(self.boundaries, now)


def selects(rules: RuleSet, rule: Rule, catalog, positions: np.ndarray) -> np.ndarray:
    """Which of ``positions`` the rule's ``items`` select (all of its conditions): attributes through the
    catalog's attribute indexes, as the list filters read them (``app.recommender.filters``)."""
    mask = np.ones(len(positions), bool)
    if rule.item_category is not None:
        mask &= catalog.category_codes[positions] == catalog.categories.get(rule.item_category, -2)
    for name, value in rule.attributes or ():
        mask &= np.isin(positions, catalog.attribute_index(name).get(value_key(value), ()))
    if rule.item_ids is not None:
        mask &= np.fromiter((catalog.item_ids[p] in rule.item_ids for p in positions.tolist()), bool, len(positions))
    return mask


def apply(rules: RuleSet, live: tuple[Rule, ...], catalog, positions: np.ndarray, scores: np.ndarray,
          eligible: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, dict[int, str], list[str]]:
    """(positions, scores) of the top k after ``live`` rules, the reason of each item a rule placed (by
    position) and the ids of the rules that acted, in rule_id order. ``positions``: the scored pool, best
    first, eligible items only; ``eligible``: the request's mask over the catalog."""
    live = tuple(sorted(live, key=lambda r: r.rule_id))
    acted: set[str] = set()
    positions, scores = np.asarray(positions, np.int64), np.asarray(scores, np.float64)
    standing = 1.0 / np.arange(1, len(positions) + 1)
    for rule in (r for r in live if r.action in ("boost", "bury")):
        mask = selects(rules, rule, catalog, positions)
        if mask.any():
            standing[mask] *= rule.factor
            acted.add(rule.rule_id)
    if acted:
        order = np.argsort(-standing, kind="stable")
        positions, scores = positions[order], scores[order]

    placed: dict[int, str] = {}
    head: list[int] = []
    for rule in (r for r in live if r.action == "promote"):
        slots = min(int(rule.share * k + 1e-9), k) - len(head)
        mask = selects(rules, rule, catalog, positions) & ~np.isin(positions, head)
        chosen = positions[mask][:max(slots, 0)].tolist()
        if chosen:
            head += chosen
            placed.update(dict.fromkeys(chosen, PROMOTED))
            acted.add(rule.rule_id)
    if head:  # the promoted first, in the order they were chosen; the rest as they stood
        index = {p: n for n, p in enumerate(positions.tolist())}
        order = [index[p] for p in head] + [n for n, p in enumerate(positions.tolist()) if p not in placed]
        positions, scores = positions[order], scores[order]

    pins: list[tuple[int, Rule]] = []
    for rule in sorted((r for r in live if r.action == "pin"), key=lambda r: (r.position, r.rule_id)):
        [item_id] = rule.item_ids
        p = catalog.positions.get(item_id)
        if p is not None and eligible[p] and selects(rules, rule, catalog, np.array([p]))[0] and \
                all(p != q for q, _ in pins):
            pins.append((p, rule))
    if pins:
        length = min(k, len(set(positions.tolist()) | {p for p, _ in pins}))
        pins = [(p, rule) for p, rule in pins if rule.position <= length]  # the list stops before the others
    if pins:
        low = float(scores.min()) if len(scores) else 0.0
        known = dict(zip(positions.tolist(), scores.tolist(), strict=True))
        out = [p for p in positions.tolist() if p not in {q for q, _ in pins}]
        at: dict[int, int] = {}
        for p, rule in pins:  # ascending positions: each lands where it says; at one position, rule_id order
            out.insert(rule.position - 1 + at.get(rule.position, 0), p)
            at[rule.position] = at.get(rule.position, 0) + 1
            placed[p] = PINNED
            acted.add(rule.rule_id)
        positions = np.array(out, np.int64)
        scores = np.array([known.get(p, low) for p in out], np.float64)
    positions, scores = positions[:k], scores[:k]
    shown = set(positions.tolist())
    return positions, scores, {p: why for p, why in placed.items() if p in shown}, sorted(acted)
