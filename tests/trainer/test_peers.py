"""The yardstick beside a version's recall: most-popular and item-kNN on the fit's own validation events."""

import numpy as np

from app.trainer.peers import yardstick
from app.trainer.types import Factors
from tests.trainer.test_fit import store


def partner_factors(n_users: int, n_items: int) -> Factors:
    """A served version that scores each user's pair partner (the pairs store's 2j+1) above all else."""
    users, items = np.zeros((n_users, 4)), np.zeros((n_items, 4))
    users[np.arange(n_users), np.arange(n_users) % 4] = 1.0
    items[np.arange(1, 8, 2), np.arange(4)] = 1.0
    return Factors("ranking", 0.0, users, np.zeros(n_users), items, np.zeros(n_items), None, None, None, None)


def validation_recalls(data, train, val, k=20):
    """The yardstick with the partner-scoring version standing in for the served one."""
    return yardstick(data, train, val, lambda held: partner_factors(data.n_users, data.n_items), k)


def pairs_store():
    """Items come in pairs (2j, 2j+1), and item 8 everyone has. Users 40-79 had all three; users 0-39 had
    8 and 2j, and validation asks for their 2j+1: co-occurrence names it, popularity cannot (every 2j has
    twice the events of any 2j+1)."""
    events = []
    for u in range(80):
        j = u % 4
        events += [(u, 8, None), (u, 2 * j, None), (u, 2 * j + 1, None)]
    return store(80, 9, events)


def test_item_knn_finds_the_partner_and_popularity_cannot():
    data = pairs_store()
    rows = np.arange(len(data.users))
    val = rows[2:120:3]  # each pair user's last event: the partner
    train = np.setdiff1d(rows, val)
    given = []
    got = yardstick(data, train, val, lambda held: given.append(held) or partner_factors(80, 9), k=1)
    assert got["item_knn"] == 1.0  # the partner co-occurs with the user's item in every other user
    assert got["popular"] == 0.0
    assert got["semrec"] == 1.0  # the served version's own scores, on the same events
    # The served version is made from the training events alone: the validation events never reach it.
    assert len(given) == 1 and len(given[0].users) == len(train)
    assert not {(u, i) for u, i in zip(data.users[val], data.items[val], strict=True)} & \
        {(u, i) for u, i in zip(given[0].users, given[0].items, strict=True)}


def test_training_items_are_never_counted_and_no_validation_gives_nothing():
    data = pairs_store()
    rows = np.arange(len(data.users))
    assert validation_recalls(data, rows, rows[:0]) == {}
    # Asking for an item the user trained on can never hit: it is excluded from their list.
    got = validation_recalls(data, rows, rows[1:120:3], k=3)
    assert got == {"popular": 0.0, "item_knn": 0.0, "semrec": 0.0}


def test_popularity_read_off_one_order_equals_ranking_the_whole_catalog(monkeypatch):
    """Random store: the head-of-one-order shortcut gives what sorting every user's catalog gives; above the
    size limit item-kNN is left out, popularity stays."""
    rng = np.random.default_rng(4)
    events = [(int(u), int(i), None) for u, i in zip(rng.integers(0, 60, 900), rng.zipf(1.5, 900) % 50,
                                                      strict=True)]
    data = store(60, 50, events)
    rows = np.arange(len(data.users))
    val, train = rows[::7], np.setdiff1d(rows, rows[::7])
    counts = np.zeros(50)
    np.add.at(counts, np.unique(np.c_[data.users[train], data.items[train]], axis=0)[:, 1], 1)
    hits = 0
    for r in val:
        had = set(data.items[train][data.users[train] == data.users[r]])
        order = [i for i in np.argsort(-counts, kind="stable") if i not in had][:5]
        hits += data.items[r] in order
    assert validation_recalls(data, train, val, k=5)["popular"] == round(hits / len(val), 5)
    monkeypatch.setattr("app.trainer.peers.MAX_EVENTS", 10)
    assert set(validation_recalls(data, train, val, k=5)) == {"popular"}  # no item-kNN, no served check
