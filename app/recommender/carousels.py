"""Bought together and trending: the two lists that read the items' counts, not a shopper or the model.

Ingestion keeps the counts up in the store, in each batch's own transaction (``app.store.counts``):
co-purchases per item pair (``item_pairs``) with each item's total (``item_counts.pairs``), and events per item
and hour (``item_hours``). Serving never reads the events:

- **bought together** reads the item's pairs on each request (one indexed range read, in the same connection
  as the serving epoch), so a purchase acknowledged by any API process is in the next answer of every one; the
  other items' totals, which only set what chance expects, come from memory (``refresh``, seconds old).
- **trending** works over the hour counts held in memory, read incrementally (the rows changed since the last
  read) by the background refresh every ``SEMREC_REFRESH_SECONDS``: current within that many seconds (2).

Both scores are shrunk ratios of what was seen to what chance or habit expects, ``(seen + m) / (expected + m)``
(the posterior mean of a Poisson rate ratio under a Gamma(m, m) prior): rare pairs and small bursts stay near 1,
and a list is ranked by evidence, not by a lucky single event.

    carousels.bought_together("sku-1", k=10); carousels.trending(k=10, hours=24, category="shoes")
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from sqlalchemy import Engine, bindparam, select
from sqlalchemy.orm import Session, sessionmaker

from app.recommender import ranking, reads, rules
from app.recommender.catalog import OVERLAP
from app.recommender.filters import NONE as NO_FILTERS
from app.recommender.filters import Filters
from app.recommender.service import Answer
from app.recommender.state import Served, State
from app.store.models import ItemCount, ItemHour, ItemPair, utcnow

PAIR_PRIOR = 1.0  # m of bought together, in co-purchases
TREND_PRIOR = 5.0  # m of trending, in (decayed) events
BASELINE_HOURS = 28 * 24  # an item's usual rate: its events over the four weeks before the recent window
BASELINE_PRIOR = 1.0  # events every item is taken to have had in the baseline (a new item's usual rate)
MAX_HOURS = 7 * 24  # the longest recent window asked for (`hours`)
HOUR_BITS = 24  # hours since 1970 fit 24 bits until the year 3884
FILLER_PAIRS = "popular; not bought together with it yet"
FILLER_TREND = "popular; not above its usual rate now"

_PARTNERS = select(ItemPair.partner_id, ItemPair.pairs).where(ItemPair.item_id == bindparam("item_id"),
                                                              ItemPair.pairs > 0)


@dataclass(frozen=True)
class Counts:
    """The counts in memory: each item's co-purchases, and events per (item, hour) as sorted int64 keys
    ``index << HOUR_BITS | hour`` over the items' own numbering (``ids``)."""

    degrees: dict[str, int] = field(default_factory=dict)
    total: int = 0  # the sum of the degrees: twice the co-purchases counted
    ids: tuple[str, ...] = ()  # a tuple of strings, which the cyclic collector stops walking
    index: dict[str, int] = field(default_factory=dict)
    keys: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    events: np.ndarray = field(default_factory=lambda: np.zeros(0))
    since: datetime | None = None  # the next read starts here (less the overlap)
    generation: int = 0  # moves on when the hour counts change: trend scores are kept per generation


class Carousels:
    def __init__(self, served: Served, engine: Engine, sessions: sessionmaker[Session]) -> None:
        self.served, self.engine, self.sessions = served, engine, sessions
        self.counts: Counts | None = None
        self._lock = threading.Lock()
        self._trends: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}  # (hours, hour, generation, catalog) -> scores

    # ------------------------------------------------------------ following the store

    def current(self) -> Counts:
        return self.counts or self.refresh()

    def refresh(self) -> Counts:
        """Read the co-purchase totals and hour counts changed since the last read (all of them the first time)."""
        with self._lock, self.sessions() as session:
            old = self.counts or Counts()
            read_at, floor = utcnow(), _hour_now() - MAX_HOURS - BASELINE_HOURS
            since = old.since - OVERLAP if old.since is not None else None
            totals = select(ItemCount.item_id, ItemCount.pairs)
            # Hours far in the future (a mistyped year) say nothing of now, and would not fit the keys' bits.
            hours = select(ItemHour.item_id, ItemHour.hour, ItemHour.events).where(
                ItemHour.hour >= floor, ItemHour.hour <= _hour_now() + MAX_HOURS)
            if since is not None:
                totals = totals.where(ItemCount.updated_at >= since)
                hours = hours.where(ItemHour.updated_at >= since)
            degrees, total = dict(old.degrees), old.total
            for item_id, n in session.execute(totals):
                total += n - degrees.get(item_id, 0)
                degrees[item_id] = n
            rows = session.execute(hours).all()
            ids, index, keys, events = old.ids, old.index, old.keys, old.events
            if rows:
                index, new_ids = dict(index), []
                for item_id, _, _ in rows:
                    if item_id not in index:
                        index[item_id] = len(ids) + len(new_ids)
                        new_ids.append(item_id)
                ids += tuple(new_ids)
                new_keys = np.array([index[i] << HOUR_BITS | h for i, h, _ in rows], np.int64)
                keys, events = _merge(keys, events, new_keys, np.array([n for _, _, n in rows], np.float64))
            keep = (keys & ((1 << HOUR_BITS) - 1)) >= floor
            if not keep.all():
                keys, events = keys[keep], events[keep]
            generation = old.generation + (keys is not old.keys)
            self.counts = Counts(degrees, total, ids, index, keys, events, read_at, generation)
            return self.counts

    # ------------------------------------------------------------ answers

    def bought_together(self, item_id: str, k: int, filters: Filters = NO_FILTERS) -> Answer | None:
        """Items bought with this one, by shrunk lift over chance; popular items after them (each saying so)
        when fewer than k were; None for an unknown or deleted item."""
        with self.engine.connect() as conn:
            state = self.served.at_least(reads.epoch(conn))
            pos = state.catalog.positions.get(item_id)
            if (pos is None or not state.catalog.recommendable[pos]) and not reads.item_is_live(conn, item_id):
                return None
            rows = conn.execute(_PARTNERS, {"item_id": item_id}).all()
        counts, cat = self.current(), state.catalog
        own = sum(n for _, n in rows)  # the item's co-purchases, read just now
        total = max(counts.total, 2 * own)
        eligible = filters.mask(cat)
        if pos is not None:
            eligible[pos] = False
        partners, seen, lifts = [], [], []
        for partner_id, n in rows:
            p = cat.positions.get(partner_id)
            if p is None or not eligible[p]:
                continue
            expected = own * max(counts.degrees.get(partner_id, 0), n) / total
            partners.append(p)
            seen.append(n)
            lifts.append((n + PAIR_PRIOR) / (expected + PAIR_PRIOR))
        live = state.rules.matching("bought_together", filters.categories, None, time.time())
        n = rules.needed(k, live)
        order = np.lexsort((np.array(partners), -np.array(seen), -np.array(lifts)))[:n]
        positions, scores = np.array(partners, np.int64)[order], np.array(lifts)[order]
        fillers = np.zeros(0, np.int64)
        if len(positions) < n:
            eligible[positions] = False
            fillers, _ = ranking.popular(state, eligible, n - len(positions))
            eligible[positions] = True
            chance = np.array([own * counts.degrees.get(cat.item_ids[p], 0) / max(total, 1)
                               for p in fillers.tolist()])
            positions = np.concatenate([positions, fillers])
            scores = np.concatenate([scores, PAIR_PRIOR / (chance + PAIR_PRIOR)])
        strategy = "bought_together" if len(fillers) < len(positions) else "popular"
        return _steered(state, strategy, live, positions, scores, eligible, k,
                        fillers if strategy != "popular" else (), FILLER_PAIRS)

    def trending(self, k: int, hours: int, filters: Filters = NO_FILTERS) -> Answer:
        """The items whose events of the last ``hours`` (decayed) most exceed their usual rate; popular items
        after them (each saying so) when fewer than k do."""
        with self.engine.connect() as conn:
            state = self.served.at_least(reads.epoch(conn))
        scores, recent = self._trend(state, self.current(), hours)
        eligible = filters.mask(state.catalog)
        hot = eligible & (recent > 0) & (scores > 1.0)
        live = state.rules.matching("trending", filters.categories, None, time.time())
        n = rules.needed(k, live)
        positions = ranking.best(np.flatnonzero(hot), scores, n)
        fillers = np.zeros(0, np.int64)
        if len(positions) < n:
            fillers, _ = ranking.popular(state, eligible & ~hot, n - len(positions))
            positions = np.concatenate([positions, fillers])
        strategy = "trending" if len(fillers) < len(positions) else "popular"
        return _steered(state, strategy, live, positions, scores[positions], eligible, k,
                        fillers if strategy != "popular" else (), FILLER_TREND)

    def _trend(self, state: State, counts: Counts, hours: int) -> tuple[np.ndarray, np.ndarray]:
        """(trend score, decayed recent events) per catalog position, kept until the counts, the hour or the
        catalog move on: the work over every (item, hour) count is done once per refresh, not per request."""
        now = _hour_now()
        key = (hours, now, counts.generation, id(state.catalog.positions))
        kept = self._trends.get(key)
        if kept is not None:
            return kept
        n = len(counts.ids)
        age = np.maximum(now - (counts.keys & ((1 << HOUR_BITS) - 1)), 0)
        item = counts.keys >> HOUR_BITS
        inside = age < hours
        weights = np.exp(-age[inside] / hours)
        recent = np.bincount(item[inside], weights=counts.events[inside] * weights, minlength=n)
        before = (age >= hours) & (age < hours + BASELINE_HOURS)
        baseline = np.bincount(item[before], weights=counts.events[before], minlength=n)
        exposure = float(np.exp(-np.arange(hours) / hours).sum())  # the decayed hours the recent count spans
        expected = (baseline + BASELINE_PRIOR) / BASELINE_HOURS * exposure
        cat = state.catalog
        scores = np.full(len(cat.item_ids), TREND_PRIOR / (BASELINE_PRIOR / BASELINE_HOURS * exposure + TREND_PRIOR))
        seen = np.zeros(len(cat.item_ids))
        where = np.array([cat.positions.get(i, -1) for i in counts.ids], np.int64)
        known = where >= 0
        scores[where[known]] = ((recent + TREND_PRIOR) / (expected + TREND_PRIOR))[known]
        seen[where[known]] = recent[known]
        if len(self._trends) > 64:
            self._trends.clear()
        self._trends[key] = (scores, seen)
        return scores, seen


def _merge(keys: np.ndarray, values: np.ndarray, new_keys: np.ndarray, new_values: np.ndarray):
    """Sorted ``keys`` with ``new_keys`` set to ``new_values`` (the store's totals: the new value wins)."""
    all_keys, all_values = np.concatenate([keys, new_keys]), np.concatenate([values, new_values])
    order = np.argsort(all_keys, kind="stable")  # equal keys keep their order: the new one last
    all_keys, all_values = all_keys[order], all_values[order]
    last = np.append(all_keys[1:] != all_keys[:-1], True)
    all_keys, all_values = all_keys[last], all_values[last]
    positive = all_values > 0  # an erased user's hours drop to zero
    return all_keys[positive], all_values[positive]


def _hour_now() -> int:
    return int(time.time() // 3600)


def _steered(state: State, strategy: str, live: tuple, positions: np.ndarray, scores: np.ndarray,
             eligible: np.ndarray, k: int, fillers, filler_reason: str) -> Answer:
    """The top k of a scored pool after the merchandising rules that apply (``app.recommender.rules``), each
    filler (a popular item after the list's own) and each item a rule placed saying so."""
    placed, acted = {}, []
    if live:
        positions, scores, placed, acted = rules.apply(state.rules, live, state.catalog, positions, scores,
                                                       eligible, k)
    positions, scores = positions[:k], scores[:k]
    items = ranking.listed(state, positions, scores)
    filled = set(np.asarray(fillers).tolist())
    for item, p in zip(items, positions.tolist(), strict=True):
        if p in placed:
            item["because"] = placed[p]
        elif p in filled:
            item["because"] = filler_reason
    return Answer(state.model.version if state.model else None, strategy, items, rules=acted or None)
