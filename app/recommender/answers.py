"""Answers kept per user until anything they depend on changes.

An answer is a pure function of the served state (model and catalog: ``State.generation``; popularity for
the answers that read it), the store's serving epoch (it also moves when a user's profile vector is written),
the user's events since the model (the newest one's id and their number) and the request's parameters. Keyed
by all of them, a kept answer is the one the service would compute now, so read-your-writes holds: a write
moves the epoch or the user's newest event, and the next request misses. What it saves is the work after the
one read of the store, which a storefront repeats on every page a shopper opens. Popularity moves every
``SEMREC_REFRESH_SECONDS`` under steady ingestion, so the answers that read it (popular lists, few-event
users' ties) are kept with its ``State.popularity_generation`` and last only while it does; a regular user's
list does not read it and lasts until the model, the catalog or their events change.

Keys and answers are kept as tuples of strings and numbers only (``Filters.key``, ``Answer.kept``): the cyclic
garbage collector stops tracking such a tuple, where 20,000 kept answers as instances, lists and dicts made
every full collection in a serving process walk a few hundred thousand objects, 40-85 ms in which no request
is answered (docs/online.md, "Tenth round").
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any


class AnswerCache:
    """A bounded LRU map, shared by the threads of one API process; ``size`` 0 keeps nothing."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple, Any] = OrderedDict()

    def get(self, key: tuple) -> Any | None:
        if not self.size:
            return None
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None:
                self._entries.move_to_end(key)
            return hit

    def put(self, key: tuple, answer: Any) -> None:
        if not self.size:
            return
        with self._lock:
            self._entries[key] = answer
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
