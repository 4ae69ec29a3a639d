"""The content term appended to the ranking factors: TF-IDF for the items no one has had yet."""

from dataclasses import replace

import numpy as np

from app.trainer.fit import fit
from app.trainer.types import TrainData, TrainParams

PARAMS = TrainParams(epochs=3, factors=8, device="cpu", neighbourhood_weight=0.0, select=False)
KINDS = {"fishing": ["fly fishing lure kit", "carbon fishing rod", "fishing tackle box", "fishing line spool"],
         "running": ["trail running shoes", "running socks", "running shorts", "running watch"]}


def shop(cold_texts=("fishing hooks and lure", "road running shoes")) -> tuple[TrainData, list[str]]:
    """Two kinds of shopper, each buying their own kind; the last items of the catalog have no events."""
    names = KINDS["fishing"] + KINDS["running"] + list(cold_texts)
    users, items = [], []
    for u in range(40):
        kind = u % 2
        for i in range(4):
            users.append(u)
            items.append(kind * 4 + i)
    n = len(users)
    data = TrainData(40, len(names), np.array(users), np.array(items), np.full(n, np.nan, np.float32),
                     np.ones(n, np.float32), item_words=names)
    return data, names


def test_cold_items_are_scored_by_their_words_and_warm_ones_are_left_alone():
    data, names = shop()
    f = fit(data, replace(PARAMS, objective="ranking"))
    info = f.terms["content"]
    assert info["weight"] == 0.5 and info["items"] == 2 and info["rank"] >= 1
    r = info["rank"]
    content_items = f.item_factors[:, -r:]
    assert not content_items[:8].any()  # items with events: their events speak, not the term
    scores = f.user_factors[:, -r:] @ content_items.T
    angler, runner = 0, 1
    assert scores[angler, 8] > scores[angler, 9]  # "fishing hooks and lure" for the angler
    assert scores[runner, 9] > scores[runner, 8]  # "road running shoes" for the runner


def test_no_cold_items_or_no_words_leave_the_term_off():
    data, _ = shop(cold_texts=())
    assert fit(data, replace(PARAMS, objective="ranking")).terms["content"]["weight"] == 0.0
    data, names = shop()
    for words in (None, [""] * len(names)):
        f = fit(replace(data, item_words=words), replace(PARAMS, objective="ranking"))
        assert f.terms["content"]["weight"] == 0.0 and f.item_factors.shape[1] == 8


def test_the_weight_shrinks_with_the_share_of_items_read_with_reviews():
    data, names = shop()
    reviewed = np.zeros(len(names), bool)
    reviewed[:2] = True  # 2 of the 8 items with events
    f = fit(replace(data, item_reviewed=reviewed), replace(PARAMS, objective="ranking"))
    assert f.terms["content"]["reviewed_share"] == 0.25 and f.terms["content"]["weight"] == 0.375
    reviewed[:8] = True
    f = fit(replace(data, item_reviewed=reviewed), replace(PARAMS, objective="ranking"))
    assert f.terms["content"]["weight"] == 0.0 and f.item_factors.shape[1] == 8
