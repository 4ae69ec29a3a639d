"""The catalog as serving sees it: arrays over item positions (the model's items first, then items the model
has not seen), rebuilt copy-on-write from incremental reads of the store, never scanned per request."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.store.models import Embedding, Item, utcnow

OVERLAP = timedelta(seconds=5)
MASKS_BYTES = 64 * 2**20  # the filter masks a catalog keeps (one byte an item each) and their rows


@dataclass(frozen=True)
class Catalog:
    positions: dict[str, int]  # item_id -> position
    item_ids: list[str]
    titles: np.ndarray  # object
    recommendable: np.ndarray  # bool: live, available and with a title
    category_codes: np.ndarray  # int32, -1 for none
    categories: dict[str, int]
    prices: np.ndarray  # float64, NaN for none
    stamps: np.ndarray  # float64: the updated_at (epoch seconds) each position was last read at
    text_vectors: dict[int, np.ndarray] = field(default_factory=dict)  # position -> vector, unseen items only
    since: datetime | None = None
    attributes: np.ndarray | None = None  # object: each position's attributes dict (None: none)
    _attribute_indexes: dict[str, dict[str, np.ndarray]] = field(default_factory=dict, compare=False, repr=False)
    _masks: dict = field(default_factory=dict, compare=False, repr=False)  # see kept_mask

    def kept_mask(self, key, build: Callable[[], np.ndarray]) -> np.ndarray:
        """A copy of the mask ``build`` makes for ``key`` (hashable: a request's filters), built once per
        catalog like the attribute indexes: a shop's lists ask for the same few filters (its category pages)
        over and over, and building one is a few passes over every item. At most MASKS_BYTES of masks (and
        their ``kept_rows``) are kept (all dropped when full). The caller may change its copy."""
        return self._kept(key, build)[0].copy()

    def kept_rows(self, key, build: Callable[[], np.ndarray], at_most: int) -> np.ndarray | None:
        """The positions the kept mask for ``key`` admits, sorted, where there are at most ``at_most`` of them
        (else None); found once per mask. A narrow filter's exact pass (``ranking.search``) takes its
        candidates from them instead of a pass over every item's flag. Read-only: shared by every answer."""
        entry = self._kept(key, build)
        if entry[1] is None:
            entry[1] = np.count_nonzero(entry[0])
        if entry[1] > at_most:
            return None
        if entry[2] is None:
            rows = np.flatnonzero(entry[0])
            rows.flags.writeable = False
            self._keep(key, entry, rows.nbytes)
            entry[2] = rows
        return entry[2]

    def _kept(self, key, build: Callable[[], np.ndarray]) -> list:
        """[mask, how many it admits or None, its rows or None] for ``key``, built on first use."""
        entry = self._masks.get(key)
        if entry is None:
            mask = build()
            entry = [mask, None, None]
            self._keep(key, entry, mask.nbytes)
        return entry

    def _keep(self, key, entry: list, more: int) -> None:
        """Keep ``entry`` under ``key`` with ``more`` bytes added to it, every other one dropped when that
        would pass MASKS_BYTES."""
        kept = sum(e[0].nbytes + (e[2].nbytes if e[2] is not None else 0)
                   for e in list(self._masks.values()))  # a copy: answers in the thread pool keep masks too
        if kept + more > MASKS_BYTES:
            self._masks.clear()
        self._masks[key] = entry

    def eligible(self, category: str | None = None, min_price: float | None = None,
                 max_price: float | None = None) -> np.ndarray:
        mask = self.recommendable.copy()
        if category is not None:
            mask &= self.category_codes == self.categories.get(category, -2)
        if min_price is not None:
            mask &= self.prices >= min_price
        if max_price is not None:
            mask &= self.prices <= max_price
        return mask

    def attribute_index(self, name: str) -> dict[str, np.ndarray]:
        """Attribute ``name``'s inverted index: each value (as JSON text) -> the positions holding it. Built on
        first use, once per catalog (a new catalog is made whenever an item changes)."""
        index = self._attribute_indexes.get(name)
        if index is None:
            lists: dict[str, list[int]] = {}
            for pos, attrs in enumerate(self.attributes if self.attributes is not None else ()):
                if attrs and name in attrs:
                    lists.setdefault(value_key(attrs[name]), []).append(pos)
            index = {v: np.array(p, np.int64) for v, p in lists.items()}
            self._attribute_indexes[name] = index
        return index


def value_key(value) -> str:
    """An attribute value as the indexes key it: its JSON text, so that types stay apart (``true`` is not ``1``)
    and numbers are numbers (``1`` is ``1.0``)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def load(session: Session, model_item_ids: list[str], encoder_model: str | None,
         previous: Catalog | None = None) -> Catalog:
    """A new Catalog: everything on the first call, then only items changed since ``previous.since``."""
    # Overlap the last read: a transaction stamped just before it may have committed just after it.
    since = previous.since - OVERLAP if previous and previous.since else None
    read_at = utcnow()  # the next read starts here (less the overlap), however old the newest row is
    stmt = select(Item.item_id, Item.title, Item.category, Item.price, Item.available, Item.deleted_at,
                  Item.updated_at, Item.attributes)
    if since is not None:
        stmt = stmt.where(Item.updated_at >= since)
    rows = session.execute(stmt).all()
    if previous is not None:  # the overlap re-reads rows already applied: keep only the changed ones
        rows = [r for r in rows if r.item_id not in previous.positions
                or r.updated_at.timestamp() > previous.stamps[previous.positions[r.item_id]]]
    vector_rows = []
    if encoder_model:
        vec_stmt = select(Embedding.owner_id, Embedding.vector, Embedding.created_at).where(
            Embedding.owner_kind == "item", Embedding.model == encoder_model)
        if since is not None:
            vec_stmt = vec_stmt.where(Embedding.created_at >= since)
        vector_rows = session.execute(vec_stmt).all()
        if previous is not None:  # again, keep only what is new; the model's own items never read theirs
            held, n_model = previous.text_vectors, len(model_item_ids)
            vector_rows = [r for r in vector_rows if (pos := previous.positions.get(r.owner_id)) is None
                           or (pos >= n_model and (pos not in held or held[pos].tobytes() != r.vector))]
    if previous is not None and not rows and not vector_rows:
        return replace(previous, since=read_at)  # the same items: their attribute indexes stay good
    if previous is None:
        positions = {item_id: n for n, item_id in enumerate(model_item_ids)}
        item_ids = list(model_item_ids)
    else:
        positions, item_ids = dict(previous.positions), list(previous.item_ids)
    for row in rows:
        if row.item_id not in positions:
            positions[row.item_id] = len(item_ids)
            item_ids.append(row.item_id)
    n = len(item_ids)

    def grow(array, fill):
        if previous is None:
            return np.full(n, fill, dtype=object if fill is None else type(fill))
        out = np.full(n, fill, dtype=array.dtype)
        out[: len(array)] = array
        return out

    titles = grow(previous.titles if previous else None, None)
    recommendable = grow(previous.recommendable if previous else None, False)
    codes = grow(previous.category_codes if previous else None, np.int32(-1))
    prices = grow(previous.prices if previous else None, np.nan)
    stamps = grow(previous.stamps if previous else None, 0.0)
    attributes = np.full(n, None, dtype=object)
    if previous is not None and previous.attributes is not None:
        attributes[: len(previous.attributes)] = previous.attributes
    categories = dict(previous.categories) if previous else {}
    for row in rows:
        pos = positions[row.item_id]
        titles[pos] = row.title
        recommendable[pos] = bool(row.available) and row.deleted_at is None and row.title is not None
        codes[pos] = categories.setdefault(row.category, len(categories)) if row.category is not None else -1
        prices[pos] = row.price if row.price is not None else np.nan
        stamps[pos] = row.updated_at.timestamp()
        attributes[pos] = row.attributes or None

    text_vectors = dict(previous.text_vectors) if previous else {}
    n_model = len(model_item_ids)
    for owner_id, blob, _created in vector_rows:
        pos = positions.get(owner_id)
        if pos is not None and pos >= n_model:
            text_vectors[pos] = np.frombuffer(blob, dtype="<f4")
    return Catalog(positions, item_ids, titles, recommendable, codes, categories, prices, stamps, text_vectors,
                   read_at, attributes)
