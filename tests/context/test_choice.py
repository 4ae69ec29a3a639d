"""Each context feature's weight, chosen on the shop's own held-out events: a planted device effect earns its
weight, an hour that says nothing earns none, and the served context model carries the choice."""

from datetime import UTC, datetime

import numpy as np

from app.context import EventContexts
from app.trainer import contexts
from app.trainer.data import StoreData
from app.trainer.fit import fit
from app.trainer.types import TrainData, TrainParams


def device_shop(seed: int = 0) -> StoreData:
    """240 items in 8 categories of 30; 500 shoppers with a taste (a category other than 0) each. On a phone
    (three events in ten) a shopper buys from category 0 nine times in ten; on a desktop from their taste. The
    hour of each event is drawn at random: it predicts nothing."""
    rng = np.random.default_rng(seed)
    n_items, n_users = 240, 500
    category = np.arange(n_items) // 30
    users, items, devices, hours = [], [], [], []
    for u in range(n_users):
        taste = 1 + u % 7
        for _ in range(12):
            device = "mobile" if rng.random() < 0.3 else "desktop"
            cat = 0 if device == "mobile" and rng.random() < 0.9 else taste
            users.append(u)
            items.append(int(rng.choice(np.flatnonzero(category == cat))))
            devices.append(device)
            hours.append(int(rng.integers(24)))
    n = len(users)
    seconds = np.array([int(datetime(2026, 3, 2, h, tzinfo=UTC).timestamp()) + k for k, h in enumerate(hours)])
    data = TrainData(n_users, n_items, np.array(users), np.array(items), np.full(n, np.nan, np.float32),
                     np.ones(n, np.float32))
    events = EventContexts(np.array(items), seconds, np.array(devices, dtype=object),
                           np.array([None] * n, dtype=object))
    return StoreData(data, [f"u{u}" for u in range(n_users)], [f"i{i}" for i in range(n_items)], events,
                     [f"c{c}" for c in category])


def test_a_planted_device_effect_earns_a_weight_and_a_random_hour_none():
    loaded = device_shop()
    hook = contexts.chooser(loaded, loaded.data, prior=10.0, incumbent=0.5)
    f = fit(loaded.data, TrainParams(objective="ranking", epochs=6, factors=16, patience=2), on_validated=hook)
    report = f.validation["context"]
    assert report["weights"]["device"] > 0
    assert report["weights"]["hour"] == 0.0
    assert report["served"] > report["candidates"]["none"]  # the device moved the held-out events' items up
    served = contexts.fit_served(loaded, loaded.data, 10.0, report)
    assert served.weights == report["weights"]
    assert served.feature_weight("hour", 0.5) == 0.0 and served.feature_weight("device", 0.5) > 0
    # Without a choice the settings' one weight applies to every feature, as before.
    assert contexts.fit_served(loaded, loaded.data, 10.0, None).feature_weight("hour", 0.5) == 0.5
