"""A catalog keeps the masks of the filters asked of it (``Catalog.kept_mask``): each answer gets its own copy,
a new catalog (an item changed) builds afresh, and the kept masks stay within their bound."""

import numpy as np

from app.recommender import catalog as catalog_mod
from app.recommender.catalog import Catalog
from app.recommender.filters import Filters


def shop(prices: list[float], available: list[bool] | None = None) -> Catalog:
    n = len(prices)
    return Catalog(positions={f"i{p}": p for p in range(n)}, item_ids=[f"i{p}" for p in range(n)],
                   titles=np.array([f"Item {p}" for p in range(n)], dtype=object),
                   recommendable=np.array(available if available is not None else [True] * n),
                   category_codes=np.array([p % 2 for p in range(n)], np.int32), categories={"a": 0, "b": 1},
                   prices=np.array(prices, float), stamps=np.zeros(n))


def test_each_answer_gets_its_own_copy_of_the_kept_mask():
    catalog = shop([10, 20, 30, 40, 50, 60])
    asked = Filters.of(category="a", max_price=45)
    first = asked.mask(catalog)
    assert first.tolist() == [True, False, True, False, False, False]
    first[:] = False  # what a caller does with its copy (seen items out) never reaches the next answer
    assert asked.mask(catalog).tolist() == [True, False, True, False, False, False]
    assert Filters.of(category="a", max_price=45, exclude_item_ids=["i2"]).mask(catalog).tolist() == \
        [True, False, False, False, False, False]
    assert Filters.of(category="a", item_ids=["i4", "i1"]).mask(catalog).tolist() == \
        [False, False, False, False, True, False]
    assert asked.mask(catalog).tolist() == [True, False, True, False, False, False]


def test_a_new_catalog_builds_its_masks_afresh():
    asked = Filters.of(max_price=35)
    old = shop([10, 20, 30, 40])
    assert asked.mask(old).tolist() == [True, True, True, False]
    changed = shop([10, 90, 30, 40], available=[True, True, False, True])  # as load makes it when items change
    assert asked.mask(changed).tolist() == [True, False, False, False]
    assert asked.mask(old).tolist() == [True, True, True, False]


def test_the_kept_masks_stay_within_their_bound(monkeypatch):
    monkeypatch.setattr(catalog_mod, "MASKS_BYTES", 3 * 4)  # three masks of four items
    catalog = shop([10, 20, 30, 40])
    for price in range(10, 60, 5):
        assert Filters.of(max_price=price).mask(catalog).sum() == min(4, price // 10)
        assert len(catalog._masks) <= 3


def test_a_narrow_filters_rows_are_kept_with_its_mask(monkeypatch):
    """``Filters.within``: the sorted positions the field filters admit, found once per catalog and shared
    (read-only); None where more than ``at_most`` pass; the id lists and a caller's changes to its mask copy
    never narrow them (they are a superset of any answer's eligible set)."""
    catalog = shop([10, 20, 30, 40, 50, 60])
    asked = Filters.of(category="a", max_price=45)
    rows = asked.within(catalog, at_most=2)
    assert rows.tolist() == [0, 2] and not rows.flags.writeable
    assert asked.within(catalog, at_most=2) is rows  # kept
    assert asked.within(catalog, at_most=1) is None  # more than at_most pass
    assert Filters.of(category="a", max_price=45, exclude_item_ids=["i2"]).within(catalog, 5) is rows
    mask = asked.mask(catalog)
    mask[:] = False
    assert asked.within(catalog, 2).tolist() == [0, 2]
    monkeypatch.setattr(catalog_mod, "MASKS_BYTES", 2 * 6 + 2 * 8)  # two masks of six items, and one's rows
    for price in (15, 25, 35, 45, 15, 25):
        rows = Filters.of(max_price=price).within(catalog, 2)
        assert (rows.tolist() if rows is not None else None) == (list(range(price // 10)) if price < 30 else None)
        assert sum(e[0].nbytes + (e[2].nbytes if e[2] is not None else 0) for e in catalog._masks.values()) <= 28
