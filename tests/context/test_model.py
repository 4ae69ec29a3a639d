"""The context model's arithmetic: feature values of a time, shrinkage where the data is thin, unknown values."""

from datetime import UTC, datetime, timedelta, timezone

import numpy as np

from app.context import EventContexts, features, fit


def test_a_time_becomes_its_utc_hour_weekday_and_month():
    # 2026-03-02 is a Monday; 01:30 at +02:00 is 23:30 UTC on Sunday 1 March.
    assert features(datetime(2026, 3, 2, 9, 5, tzinfo=UTC)) == {"hour": "9", "weekday": "0", "month": "3"}
    local = datetime(2026, 3, 2, 1, 30, tzinfo=timezone(timedelta(hours=2)))
    assert features(local, device="mobile") == {"hour": "23", "weekday": "6", "month": "3", "device": "mobile"}
    assert features() == {}


def _events(items, hours, devices=None):
    seconds = np.array([int(datetime(2026, 3, 2, h, tzinfo=UTC).timestamp()) for h in hours], np.int64)
    n = len(items)
    return EventContexts(np.array(items, np.int64), seconds,
                         np.array(devices if devices is not None else [None] * n, dtype=object),
                         np.array([None] * n, dtype=object))


class _Catalog:
    def __init__(self, categories_of):
        self.categories = {c: n for n, c in enumerate(sorted({c for c in categories_of if c}))}
        self.category_codes = np.array([self.categories.get(c, -1) for c in categories_of], np.int32)


def test_lifts_follow_the_data_and_shrink_where_it_is_thin():
    # Item 0 (coffee) is bought at 8 o'clock 200 times, item 1 (wine) at 20 o'clock 200 times; item 2 (wine)
    # only once, at 8.
    items = [0] * 200 + [1] * 200 + [2]
    hours = [8] * 200 + [20] * 200 + [8]
    categories = ["coffee", "wine", "wine"]
    model = fit(_events(items, hours), 3, categories, prior=20.0)
    catalog = _Catalog(categories)
    morning = model.log_lift(catalog, np.arange(3), {"hour": "8"})
    evening = model.log_lift(catalog, np.arange(3), {"hour": "20"})
    assert morning[0] > 0.5 and morning[1] < -0.5 and evening[1] > 0.5 and evening[0] < -0.5
    # One event says little: item 2 follows its category (wine: unlikely in the morning), barely moved by it.
    assert morning[2] < 0 and abs(morning[2] - model.log_lift(catalog, np.array([1]), {"hour": "8"})[0]) < 0.7
    # A stronger prior pulls every lift toward no effect.
    weak = fit(_events(items, hours), 3, categories, prior=2000.0).log_lift(catalog, np.arange(3), {"hour": "8"})
    assert np.all(np.abs(weak) < np.abs(morning))
    # Unknown values and features change nothing; a weight of 0 turns it off.
    assert not model.log_lift(catalog, np.arange(3), {"hour": "3", "device": "toaster"}).any()
    assert model.known({"hour": "3", "device": "toaster", "weekday": "0"}) == {}  # one day: no weekday learned
    assert model.known({"hour": "20", "device": "toaster"}) == {"hour": "20"}
    assert not model.log_lift(catalog, np.arange(3), {"hour": "8"}, weight=0.0).any()


def test_a_feature_with_one_value_is_not_learned():
    model = fit(_events([0, 1, 0, 1], [0, 0, 0, 0]), 2, [None, None])  # every event at midnight, one day
    assert model is None
    model = fit(_events([0, 1, 0, 1], [0, 0, 0, 0], ["mobile", "desktop", "mobile", "desktop"]), 2, [None, None])
    assert {f for f, _ in model.rows} == {"device"}


def test_rerank_multiplies_probabilities_whatever_the_scores_are():
    model = fit(_events([0] * 50 + [1] * 50, [8] * 50 + [20] * 50), 2, [None, None])
    catalog = _Catalog([None, None])
    positions = np.array([1, 0])
    for kind, scores in (("logit", [2.0, 1.9]), ("count", [10.0, 9.0]), ("mixture", [1.2, 1.19])):
        order, moved = model.rerank(catalog, positions, np.array(scores), kind, {"hour": "8"})
        assert order.tolist() == [0, 1], kind  # item 0 is the morning's
        assert np.all(np.diff(moved) <= 0)
