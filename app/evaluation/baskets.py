"""A planted basket shop for bought together: shoppers fill baskets (a few items within an hour) days apart,
and some items have a known partner that joins them in the basket half the time (a camera and its memory card,
a pen and its refills). Bought together can then be checked to find the partners among popular noise."""

from __future__ import annotations

import numpy as np

from app.evaluation.datasets import Dataset, _texts

START = 1_767_225_600  # 2026-01-01 00:00 UTC


def basket_shop(n_items: int = 300, n_pairs: int = 40, n_users: int = 800, baskets_per_user: int = 6,
                partner_share: float = 0.5, seed: int = 0) -> tuple[Dataset, list[tuple[str, str]]]:
    """(the shop's purchases, its planted (item, partner) pairs). Items are drawn by a Zipf popularity; a basket
    holds 1-3 of them, plus the partner of each planted item in it with probability ``partner_share``."""
    rng = np.random.default_rng(seed)
    ids = [f"p{n}" for n in range(n_items)]
    popularity = 1.0 / np.arange(1, n_items + 1) ** 0.8
    popularity /= popularity.sum()
    shuffled = rng.permutation(n_items)
    partner = {int(a): int(b) for a, b in zip(shuffled[:n_pairs], shuffled[n_pairs:2 * n_pairs], strict=True)}
    users, items, stamps = [], [], []
    for u in range(n_users):
        days = np.sort(rng.choice(180, baskets_per_user, replace=False))
        for day in days:
            t = START + int(day) * 86_400 + int(rng.integers(0, 20 * 3600))
            basket = list(dict.fromkeys(rng.choice(n_items, int(rng.integers(1, 4)), p=popularity).tolist()))
            basket += [partner[i] for i in basket if i in partner and rng.random() < partner_share]
            for n, i in enumerate(dict.fromkeys(basket)):
                users.append(f"u{u}")
                items.append(ids[i])
                stamps.append(t + 60 * n)
    records = {i: {"item_id": i, "title": f"Product {i}"} for i in ids}
    ds = Dataset("planted-baskets", np.array(users), np.array(items), np.full(len(users), 5.0, np.float32),
                 np.array(stamps, np.int64), _texts(records), item_records=records)
    return ds, [(ids[a], ids[b]) for a, b in partner.items()]
