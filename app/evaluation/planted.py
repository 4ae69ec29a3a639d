"""A planted shop for the Context protocol: shoppers with tastes over categories, whose choices also follow
the time of day and the device, the way a storefront's do (coffee and breakfast in the morning, wine and
snacks in the evening; coffee more on phones, books more on desktops). Known effects, so that a context model
can be checked to find them; real data sets say nothing of device or place."""

from __future__ import annotations

import numpy as np

from app.evaluation.datasets import Dataset, _texts

CATEGORIES = ("coffee", "breakfast", "wine", "snacks", "books", "toys")
# How much likelier each category is in each part of the day (night, morning, afternoon, evening)...
BY_PART = {"coffee": (0.3, 4.0, 1.0, 0.3), "breakfast": (0.3, 3.0, 0.7, 0.3), "wine": (1.5, 0.1, 0.6, 4.0),
           "snacks": (1.5, 0.3, 1.0, 2.5), "books": (1, 1, 1, 1), "toys": (0.5, 0.8, 1.5, 1.0)}
# ... and on each device.
BY_DEVICE = {"mobile": {"coffee": 2.0, "snacks": 1.5}, "desktop": {"books": 2.5, "toys": 1.5}}
DEVICES = ("mobile", "desktop")
START = 1_767_225_600  # 2026-01-01 00:00 UTC


def _part(hour: int) -> int:
    return 0 if hour < 6 else 1 if hour < 12 else 2 if hour < 18 else 3


def planted_shop(n_users: int = 600, per_category: int = 40, events_per_user: int = 30, seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    items = [(f"{c}-{n}", c) for c in CATEGORIES for n in range(per_category)]
    by_category = {c: np.array([n for n, (_, cat) in enumerate(items) if cat == c]) for c in CATEGORIES}
    popularity = 1.0 / np.arange(1, per_category + 1)  # Zipf within each category
    popularity /= popularity.sum()
    users, chosen, stamps, contexts = [], [], [], []
    for u in range(n_users):
        taste = rng.dirichlet(np.full(len(CATEGORIES), 0.7))
        mobile_share = rng.uniform(0.2, 0.8)
        days = np.sort(rng.choice(90, events_per_user))
        had = set()
        for day in days:
            hour = int(rng.integers(0, 24))
            device = "mobile" if rng.random() < mobile_share else "desktop"
            w = np.array([taste[n] * BY_PART[c][_part(hour)] * BY_DEVICE[device].get(c, 1.0)
                          for n, c in enumerate(CATEGORIES)])
            category = CATEGORIES[rng.choice(len(CATEGORIES), p=w / w.sum())]
            item = int(by_category[category][rng.choice(per_category, p=popularity)])
            if item in had:
                continue  # one event per (user, item), as in the other data sets
            had.add(item)
            users.append(f"u{u}")
            chosen.append(items[item][0])
            stamps.append(START + int(day) * 86_400 + hour * 3600 + int(rng.integers(0, 3600)))
            contexts.append({"device": device})
    records = {i: {"item_id": i, "title": f"{c.capitalize()} {i.split('-')[1]}", "category": c,
                   "description": f"A {c} product."} for i, c in items}
    return Dataset("planted-shop", np.array(users), np.array(chosen), np.full(len(users), 5.0, np.float32),
                   np.array(stamps, np.int64), _texts(records), item_records=records,
                   contexts=np.array(contexts, dtype=object))
