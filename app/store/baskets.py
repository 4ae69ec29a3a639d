"""What a basket is, as one pure rule shared by ingestion, erasure and the migration's backfill, so that the
three count exactly the same pairs (erasure subtracts what ingestion added, to the pair).

Two events of one shopper are bought together when both count as bought (``BOUGHT``) and their timestamps
lie within ``SEMREC_BASKET_HOURS`` of each other. A pair is counted once, when the later-stored event of the
two arrives (the larger ``interactions.id``): the earlier one is in the store by then, whatever order the
timestamps came in. A shopper who buys or rates hundreds of things a day (a reseller, a rating session) is not
filling one basket: each event pairs with at most ``PARTNERS`` of the shopper's earlier-stored bought events,
the nearest in time, which bounds ingestion's work per event.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

# Purchases, and ratings: a review is written by someone who bought the thing, and the data sets (Amazon
# reviews, MovieLens ratings) record purchases no other way. Views, clicks and carts are interest, not a basket.
BOUGHT = ("purchase", "rating")
PARTNERS = 20  # the most earlier-stored bought events one event pairs with


@dataclass(frozen=True)
class Bought:
    id: int  # interactions.id: the order events were stored in
    user_id: str
    item_id: str
    ts: datetime


def pairs(events: Iterable[Bought], window_s: float, counted: set[int] | None = None) -> Counter:
    """Co-purchase counts, both directions ((a, b) and (b, a)), of the events' baskets. ``events`` must hold
    every stored bought event of the shoppers within the window of those to count; ``counted``: the ids whose
    pairs to count (None: all), each with its earlier-stored partners only."""
    by_user: dict[str, list[Bought]] = {}
    for e in events:
        by_user.setdefault(e.user_id, []).append(e)
    out: Counter = Counter()
    for history in by_user.values():
        history.sort(key=lambda e: (e.ts, e.id))
        times = [e.ts.timestamp() for e in history]
        for n, e in enumerate(history):
            if counted is not None and e.id not in counted:
                continue
            lo, hi = bisect_left(times, times[n] - window_s), bisect_right(times, times[n] + window_s)
            near = sorted((abs(times[j] - times[n]), -history[j].id, j) for j in range(lo, hi)
                          if history[j].id < e.id and history[j].item_id != e.item_id)
            for _, _, j in near[:PARTNERS]:
                out[(e.item_id, history[j].item_id)] += 1
                out[(history[j].item_id, e.item_id)] += 1
    return out


def hour_of(ts: datetime) -> int:
    """The hour an event falls in, as hours since 1970 (UTC): trending counts events per item and hour."""
    return int(ts.timestamp() // 3600)
