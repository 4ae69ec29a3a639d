"""Which items a list may hold: the request's filters as one mask over catalog positions, applied before the
top k is taken (``ranking.search`` then widens its search or scores the eligible set exactly), so a filter
that leaves k eligible items never costs the list an item.

Attribute filters match by equality on the item's attributes as stored (JSON values: ``true`` is not ``1``),
any of a list; each attribute name's inverted index is built once per catalog (``Catalog.attribute_index``),
so a request costs a few array operations, never a pass over every item's attributes.

    mask = Filters.of(category=["shoes", "boots"], attributes={"brand": ["Stride"]}).mask(catalog)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from app.recommender.catalog import Catalog, value_key


@dataclass(frozen=True)
class Filters:
    """Hashable (answers are kept by it): every field is a tuple or a number."""

    categories: tuple[str, ...] | None = None  # any of these
    min_price: float | None = None
    max_price: float | None = None
    attributes: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (name, accepted values' JSON), every name must match
    item_ids: tuple[str, ...] | None = None  # only these
    exclude_item_ids: tuple[str, ...] = ()  # never these

    @classmethod
    def of(cls, category: str | list[str] | None = None, min_price: float | None = None,
           max_price: float | None = None, attributes: dict[str, Any] | None = None,
           item_ids: list[str] | None = None, exclude_item_ids: list[str] | None = None) -> Filters:
        """From a request's names: ``category`` one or a list, ``attributes`` {name: value | [values]}."""
        categories = None if category is None else tuple([category] if isinstance(category, str) else category)
        pairs = tuple(sorted((name, tuple(sorted({value_key(v) for v in (value if isinstance(value, list)
                                                                          else [value])})))
                             for name, value in (attributes or {}).items()))
        return cls(categories, min_price, max_price, pairs, None if item_ids is None else tuple(item_ids),
                   tuple(exclude_item_ids or ()))

    @property
    def any(self) -> bool:
        return self != NONE

    def mask(self, catalog: Catalog) -> np.ndarray:
        """The recommendable items that pass every filter (a fresh array: the caller may change it). The
        category, price and attribute part is kept per catalog (``Catalog.kept_mask``); the id lists, which
        differ from request to request, are applied to the copy."""
        mask = catalog.kept_mask(self._fields, lambda: self._by_fields(catalog))
        if self.item_ids is not None:
            only = np.zeros(len(mask), bool)
            only[_positions(catalog, self.item_ids)] = True
            mask &= only
        if self.exclude_item_ids:
            mask[_positions(catalog, self.exclude_item_ids)] = False
        return mask

    def within(self, catalog: Catalog, at_most: int) -> np.ndarray | None:
        """Sorted positions that hold every item ``mask`` admits (those its category, price and attribute part
        admits), where there are at most ``at_most`` of them; else None. Kept per catalog with the mask."""
        return catalog.kept_rows(self._fields, lambda: self._by_fields(catalog), at_most)

    @property
    def key(self) -> tuple:
        """Every field, as a plain tuple of tuples and numbers: the answer cache keys by it, and a tuple of
        atomic values is one the cyclic collector stops tracking, where an instance is walked by every full
        collection (app.recommender.answers)."""
        return self._fields + (self.item_ids, self.exclude_item_ids)

    @property
    def _fields(self) -> tuple:
        """The part of the filters a catalog keeps masks by: the id lists differ from request to request."""
        return self.categories, self.min_price, self.max_price, self.attributes

    def _by_fields(self, catalog: Catalog) -> np.ndarray:
        mask = catalog.eligible(min_price=self.min_price, max_price=self.max_price)
        if self.categories is not None:
            any_of = np.zeros(len(mask), bool)
            for name in self.categories:  # a comparison per category: far cheaper than np.isin for a few
                if (code := catalog.categories.get(name)) is not None:
                    any_of |= catalog.category_codes == code
            mask &= any_of
        for name, values in self.attributes:
            index = catalog.attribute_index(name)
            passing = np.zeros(len(mask), bool)
            for v in values:
                passing[index.get(v, _NONE)] = True
            mask &= passing
        return mask


NONE = Filters()
_NONE = np.zeros(0, np.int64)


def _positions(catalog: Catalog, item_ids: tuple[str, ...]) -> np.ndarray:
    return np.array([p for i in item_ids if (p := catalog.positions.get(i)) is not None], np.int64)
