"""The three questions a version is validated on, carved from the shop's own events before the fit.

A shop is a data set never seen before: which signal carries it (the factors, co-occurrence, the item words,
popularity) is decided on its own held-out events, one carve per route family (``app.trainer.selection``):

- ``next``: each sampled user's latest events (the last fifth, 1 to ``NEXT_MOST``; the store hands events
  in time order): what comes next, asked as P2 asks it.
- ``new items``: a sample of items with events, stripped of all of them (and so of their reviews): ranked
  among themselves for the users who had them, as a brand-new item is.
- ``new users``: users with many events cut to their first three: the rest is what they went on to have.

The validation fit trains on ``fit_rows`` only, so no carved event reaches the model it scores. The carves
are bounded (``MAX_*``), so carving and scoring cost a bounded share of a fit at any size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from app.trainer.types import TrainData

MAX_NEXT_USERS = 2_000  # next-items carve: users asked
NEXT_SHARE, NEXT_MOST = 0.2, 10  # of each one's events, the last fifth is held out, 1 to 10 of them
MAX_NEW_ITEMS = 300  # new-items carve: items stripped
MAX_NEW_USERS = 500  # new-users carve: users cut to their first events

MAX_SHARE = 0.05  # the new-users carve removes at most this share of the events
NEW_ITEMS_SHARE = 0.15  # the new-items carve this share: a small catalog needs a score of items to rank
NEXT_SHARE_OF_EVENTS = 0.10  # and the next-items carve this share
NEW_ITEM_MIN_EVENTS = 5  # as P3: an item is carved only if its events say something
NEW_USER_MIN_EVENTS = 10  # as P4
NEW_USER_KEEPS = 3
MAX_REREAD = 10_000  # reviewed items re-read from their catalog text for dense text similarity (~35 s on 2 cores)


@dataclass
class Carve:
    fit_rows: np.ndarray  # what the validation fit trains on
    next_rows: np.ndarray  # each sampled user's latest events: also the fit's early stopping
    new_items: np.ndarray  # item indexes stripped of their events
    new_users: np.ndarray  # user indexes cut to their first NEW_USER_KEEPS events
    new_user_rows: np.ndarray  # their later events (the truth), items not in ``new_items``
    # What the validation fit early-stops on: each carved user's latest held-out event. (Their whole latest
    # fifth, on ML-100K, stopped the fit after 1-3 epochs: ten films rated in one sitting, ordered within the
    # second by id, say less about training progress than the one next event does.)
    stop_rows: np.ndarray

    def sizes(self) -> dict[str, int]:
        return {"next_items": len(self.next_rows), "new_items": len(self.new_items),
                "new_users": len(self.new_users)}


def carve(data: TrainData, seed: int) -> Carve:
    """The three carves of ``data`` (events in time order); with fewer than 20 events, no carve at all."""
    rows = np.arange(len(data.users))
    empty = rows[:0]
    if len(rows) < 20:
        return Carve(rows, empty, empty, empty, empty, empty)
    rng = np.random.default_rng(seed)
    budget = MAX_SHARE * len(rows)

    item_counts = np.bincount(data.items, minlength=data.n_items)
    new_items = _bounded(rng, np.flatnonzero(item_counts >= NEW_ITEM_MIN_EVENTS), item_counts, MAX_NEW_ITEMS,
                         NEW_ITEMS_SHARE * len(rows))
    if len(new_items) < 5:  # too few to rank among themselves
        new_items = empty
    on_new_item = np.isin(data.items, new_items)

    left = rows[~on_new_item]
    user_counts = np.bincount(data.users[left], minlength=data.n_users)
    new_users = _bounded(rng, np.flatnonzero(user_counts >= NEW_USER_MIN_EVENTS), user_counts, MAX_NEW_USERS,
                         budget)
    new_user_rows = empty
    if len(new_users):
        mine = left[np.isin(data.users[left], new_users)]  # time order within each user: the store's order
        rank = _rank_within(data.users[mine])
        new_user_rows = mine[rank >= NEW_USER_KEEPS]

    rest = np.setdiff1d(left, new_user_rows)
    rest = rest[~np.isin(data.users[rest], new_users)]
    next_rows = _latest(rng, data.users[rest], rest, NEXT_SHARE_OF_EVENTS * len(rows))

    held = np.zeros(len(rows), bool)
    held[on_new_item] = True
    held[new_user_rows] = True
    held[next_rows] = True
    latest = np.full(data.n_users, -1)
    latest[data.users[next_rows]] = next_rows  # later rows overwrite earlier ones
    stop_rows = np.sort(latest[latest >= 0])
    return Carve(rows[~held], next_rows, np.sort(new_items), np.sort(new_users), np.sort(new_user_rows), stop_rows)


def _bounded(rng: np.random.Generator, eligible: np.ndarray, counts: np.ndarray, most: int,
             budget: float) -> np.ndarray:
    """A random fifth of ``eligible`` (at most ``most``), cut while their events exceed ``budget``."""
    if not len(eligible):
        return eligible
    picked = rng.choice(eligible, size=min(most, math.ceil(0.2 * len(eligible))), replace=False)
    within = np.cumsum(counts[picked]) <= budget
    return picked[within]


def _latest(rng: np.random.Generator, users: np.ndarray, rows: np.ndarray, budget: float) -> np.ndarray:
    """The held-out latest rows of a random sample of the users with at least 3 of ``rows``: each one's last
    fifth (1 to NEXT_MOST), users taken until MAX_NEXT_USERS or until their rows exceed ``budget``."""
    counts = np.bincount(users, minlength=int(users.max(initial=-1)) + 1)
    held = np.clip(np.ceil(NEXT_SHARE * counts).astype(np.int64), 1, NEXT_MOST)
    eligible = np.flatnonzero(counts >= 3)
    if not len(eligible):
        return rows[:0]
    order = rng.permutation(eligible)[:MAX_NEXT_USERS]
    order = order[np.cumsum(held[order]) <= max(budget, held[order[0]])]
    from_end = counts[users] - 1 - _rank_within(users)  # 0 for each user's latest row
    chosen = np.zeros(len(counts), bool)
    chosen[order] = True
    return np.sort(rows[chosen[users] & (from_end < held[users])])


def _rank_within(users: np.ndarray) -> np.ndarray:
    """Each row's position among the rows of its user, in the order given."""
    order = np.argsort(users, kind="stable")
    sorted_users = users[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_users)) + 1]
    run = np.arange(len(users)) - np.repeat(starts, np.diff(np.r_[starts, len(users)]))
    out = np.empty(len(users), np.int64)
    out[order] = run
    return out


def with_catalog_text(data: TrainData, catalog_vectors=None) -> TrainData:
    """``data`` with every item's text vector as read from its catalog text alone (``item_catalog_text``),
    where the vectors read reviews: dense text similarity is then scored on the carves without the held-out
    events' reviews, and compares new items and old in one space. ``catalog_vectors(items)`` re-reads them, up
    to MAX_REREAD items (beyond that the dense candidates are not scored where reviews were read)."""
    reviewed = data.item_reviewed
    if catalog_vectors is None or data.item_text is None or reviewed is None or not reviewed.any() \
            or reviewed.sum() > MAX_REREAD:
        return data
    again = np.flatnonzero(reviewed)
    vectors = data.item_text.copy()
    vectors[again] = catalog_vectors(again)
    return replace(data, item_catalog_text=vectors)


def validation_data(data: TrainData, c: Carve, catalog_vectors=None) -> TrainData:
    """``data`` as the validation fit may see it: the stripped items read by their catalog text alone (a new
    item has no reviews: ``catalog_vectors(items)`` re-reads them; without it they lose their text vector), and
    the users whose text read reviews of held-out events without it."""
    item_text, item_has = data.item_text, data.item_has_text
    reviewed = data.item_reviewed
    if item_text is not None and len(c.new_items) and reviewed is not None and reviewed[c.new_items].any():
        stripped = c.new_items[reviewed[c.new_items]]
        item_text, item_has = item_text.copy(), item_has.copy()
        if data.item_catalog_text is not None:
            item_text[stripped] = data.item_catalog_text[stripped]
        elif catalog_vectors is not None:
            item_text[stripped] = catalog_vectors(stripped)
        else:
            item_has[stripped] = False
    user_has = data.user_has_text
    if user_has is not None and data.user_reviewed is not None:
        held = np.ones(len(data.users), bool)
        held[c.fit_rows] = False
        touched = np.zeros(data.n_users, bool)
        touched[data.users[held]] = True
        user_has = user_has & ~(touched & data.user_reviewed)
    return replace(data, item_text=item_text, item_has_text=item_has, user_has_text=user_has,
                   item_reviewed=None if reviewed is None else reviewed & ~np.isin(np.arange(data.n_items),
                                                                                   c.new_items))
