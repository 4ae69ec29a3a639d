"""Per-shop choice: planted shops where one signal carries the shop, and the fit must pick it on its own carves;
the carves never leak a held-out event into the fit that is scored on them."""

from dataclasses import replace

import numpy as np

from app.trainer import carve, lexical
from app.trainer.fit import fit
from app.trainer.types import TrainData, TrainParams

QUICK = {"epochs": 8, "patience": 2, "factors": 16, "neighbourhood_rank": 64, "content_rank": 32}


def co_purchase_shop(seed: int = 0) -> TrainData:
    """300 items in 150 unrelated pairs (2j, 2j+1); each shopper buys the first of four random pairs, then
    their partners in the same order: what comes next is the partner of an item had before. No low-rank
    structure to learn and text that says nothing: co-occurrence (item-kNN) is the signal."""
    rng = np.random.default_rng(seed)
    users, items = [], []
    for u in range(600):
        pairs = rng.choice(150, size=4, replace=False)
        users += [u] * 8
        items += [2 * j for j in pairs] + [2 * j + 1 for j in pairs]
    n = len(users)
    return TrainData(600, 300, np.array(users), np.array(items), np.full(n, np.nan, np.float32),
                     np.ones(n, np.float32), item_words=[f"article {rng.integers(1e6)}" for _ in range(300)])


def word_shop(seed: int = 0, per_user: int = 8) -> TrainData:
    """20 themes, each with its own words; every shopper sticks to one theme. The text vectors are noise (an
    encoder that reads nothing of the words): a new item can only be placed by its catalog words (TF-IDF).
    The last 40 items are in the catalog without events (new at training time)."""
    rng = np.random.default_rng(seed)
    n_items, themes = 440, 20
    theme = np.arange(n_items) % themes
    words = [f"{' '.join(f'w{t}x{k}' for k in rng.choice(8, 3, replace=False))} {rng.integers(1e6)}"
             for t in theme]
    users, items = [], []
    for u in range(500):
        mine = np.flatnonzero(theme[:400] == u % themes)
        for i in rng.choice(mine, size=per_user, replace=False):
            users.append(u)
            items.append(i)
    n = len(users)
    text = rng.normal(size=(n_items, 16)).astype(np.float32)
    return TrainData(500, n_items, np.array(users), np.array(items), np.full(n, np.nan, np.float32),
                     np.ones(n, np.float32), item_text=text, item_has_text=np.ones(n_items, bool), item_words=words)


def test_a_co_purchase_shop_serves_item_knn():
    f = fit(co_purchase_shop(), TrainParams(objective="ranking", **QUICK))
    nxt = f.validation["next_items"]
    figures = nxt["candidates"]
    assert figures["item_knn"] > figures["factors"] + 0.2  # the planted signal, seen on the carve
    # The default blend holds item-kNN already and comes within the switching margin of it alone: kept.
    assert nxt["weights"]["neighbourhood_weight"] >= 1.0 and nxt["served"] >= 0.9 * figures["item_knn"]
    assert f.terms["neighbourhood"]["weight"] == nxt["weights"]["neighbourhood_weight"]  # what is served
    # Where the incumbent has no item-kNN at all, the clear winner replaces it.
    g = fit(co_purchase_shop(), TrainParams(objective="ranking", neighbourhood_weight=0.0, **QUICK))
    switched = g.validation["next_items"]
    assert switched["chosen"] != "default" and switched["weights"]["neighbourhood_weight"] >= 2.0
    assert g.terms["neighbourhood"]["weight"] == switched["weights"]["neighbourhood_weight"]
    assert switched["evidence"]["gain"] > 2 * switched["evidence"]["standard_error"]


def test_a_shop_whose_buyers_follow_words_ranks_new_items_by_their_words():
    f = fit(word_shop(), TrainParams(objective="ranking", **QUICK))
    new = f.validation["new_items"]
    assert new["candidates"]["tfidf"] > new["candidates"]["text_map"] + 0.2
    assert new["weights"]["content_weight"] > 0 and new["weights"]["text_map_weight"] < 1.0
    assert f.terms["content"]["weight"] == new["weights"]["content_weight"]  # served for the items without events
    assert f.terms["content"]["text_map_weight"] == new["weights"]["text_map_weight"]


def test_without_selection_the_given_weights_are_served():
    f = fit(co_purchase_shop(), TrainParams(objective="ranking", select=False, neighbourhood_weight=0.0, **QUICK))
    assert f.validation == {} and f.terms["neighbourhood"]["weight"] == 0.0


def test_the_carves_are_disjoint_from_the_rows_the_fit_sees():
    data = word_shop(per_user=12)
    c = carve.carve(data, seed=0)
    fit_set = set(c.fit_rows.tolist())
    assert len(c.next_rows) and len(c.new_items) >= 5 and len(c.new_users)
    assert not fit_set & set(c.next_rows.tolist())
    assert not fit_set & set(c.new_user_rows.tolist())
    assert not np.isin(data.items[c.fit_rows], c.new_items).any()  # a stripped item has no event left
    # a cut user keeps exactly their first three events (of those on items not stripped) in the fit
    for u in c.new_users[:10]:
        mine = np.flatnonzero((data.users == u) & ~np.isin(data.items, c.new_items))
        assert c.fit_rows[data.users[c.fit_rows] == u].tolist() == mine[:carve.NEW_USER_KEEPS].tolist()
    # each carve removes a bounded share of the events
    assert np.isin(data.items, c.new_items).sum() <= carve.NEW_ITEMS_SHARE * len(data.users)
    assert len(c.new_user_rows) <= carve.MAX_SHARE * len(data.users)


def test_the_validation_data_reads_stripped_items_without_reviews_and_drops_leaking_user_text():
    data = word_shop(per_user=12)
    data.item_reviewed = np.ones(data.n_items, bool)
    data.user_text = np.ones((data.n_users, 4), np.float32)
    data.user_has_text = np.ones(data.n_users, bool)
    data.user_reviewed = np.ones(data.n_users, bool)
    c = carve.carve(data, seed=0)
    read = []

    def catalog_vectors(items):
        read.append(items)
        return np.full((len(items), data.item_text.shape[1]), 7.0, np.float32)

    shown = carve.validation_data(data, c, catalog_vectors)
    assert sorted(np.concatenate(read).tolist()) == c.new_items.tolist()
    assert (shown.item_text[c.new_items] == 7.0).all() and (data.item_text[c.new_items] != 7.0).all()
    held = np.setdiff1d(np.arange(len(data.users)), c.fit_rows)
    touched = np.unique(data.users[held])
    assert not shown.user_has_text[touched].any()  # their text read reviews of events the fit must not see
    assert shown.user_has_text.sum() == data.n_users - len(touched)


def test_the_fit_never_sees_a_carved_event(monkeypatch):
    """The validation fit is handed exactly the carve's fit rows; the served fit goes on over all of them."""
    from app.trainer import model

    seen = {}
    original = model.fit_adam

    def spy(data, p, train_rows, val_rows, gen, rng, callback, refit=None):
        seen.update(train=train_rows.copy(), val=val_rows.copy(), refit=refit)
        return original(data, p, train_rows, val_rows, gen, rng, callback, refit=refit)

    monkeypatch.setattr(model, "fit_adam", spy)
    data = co_purchase_shop()
    fit(data, TrainParams(objective="ranking", **QUICK))
    c = carve.carve(data, seed=0)
    assert np.array_equal(seen["train"], c.fit_rows) and np.array_equal(seen["val"], c.stop_rows)
    assert set(c.stop_rows.tolist()) <= set(c.next_rows.tolist())  # early stopping reads held-out events only
    assert len(seen["refit"].users) == len(data.users)


def group_shop(seed: int = 0, groups: int = 25, size: int = 16, per_user: int = 14) -> TrainData:
    """``groups`` disjoint groups of ``size`` items; each shopper buys ``per_user`` items of one group, in a
    random order, and nothing else. No text: a new shopper's three items say which group they are in, and the
    items bought with those (item-kNN) are the rest of it; the established users a new one resembles by the
    likelihood of three events (the default) tend to popularity over every group."""
    rng = np.random.default_rng(seed)
    users, items = [], []
    for u in range(40 * groups):
        group = u % groups
        users += [u] * per_user
        items += list(group * size + rng.choice(size, per_user, replace=False))
    n = len(users)
    return TrainData(40 * groups, groups * size, np.array(users), np.array(items), np.full(n, np.nan, np.float32),
                     np.ones(n, np.float32))


def test_a_shop_of_item_groups_ranks_new_shoppers_by_the_items_bought_with_theirs():
    f = fit(group_shop(), TrainParams(objective="ranking", **QUICK))
    shoppers = f.validation["new_users"]
    figures = shoppers["candidates"]
    assert set(figures) == {"neighbours", "item_knn", "popularity", "factors"}
    assert shoppers["metric"] == "ndcg@10" and shoppers["events"] >= 20
    assert figures["item_knn"] > figures["neighbours"] + 0.3 and figures["item_knn"] > figures["popularity"] + 0.3
    assert shoppers["chosen"] == "item_knn" and shoppers["served"] == figures["item_knn"]
    assert shoppers["evidence"]["gain"] > 2 * shoppers["evidence"]["standard_error"]


def test_the_new_shoppers_default_stays_where_nothing_beats_it_clearly():
    """Shoppers with no groups at all (items at random): every candidate is about as bad, so the default
    stays."""
    rng = np.random.default_rng(1)
    users = np.repeat(np.arange(500), 12)
    items = rng.integers(0, 200, len(users))
    data = TrainData(500, 200, users, items, np.full(len(users), np.nan, np.float32),
                     np.ones(len(users), np.float32))
    shoppers = fit(data, TrainParams(objective="ranking", **QUICK)).validation["new_users"]
    assert shoppers["chosen"] == "neighbours"


def review_word_shop(seed: int = 0) -> TrainData:
    """``word_shop`` with the theme words in the shoppers' reviews instead of the catalog (each item's title is
    a random number): only a TF-IDF that reads the reviews sees the themes in the words."""
    data = word_shop(seed)
    rng = np.random.default_rng(seed + 1)
    theme = np.arange(data.n_items) % 20
    reviews = {row: f"{' '.join(f'w{theme[i]}x{k}' for k in rng.choice(8, 3, replace=False))} nice"
               for row, i in enumerate(data.items)}
    return replace(data, item_words=[f"article {rng.integers(1e6)}" for _ in range(data.n_items)],
                   review_texts=reviews)


def test_a_shop_whose_reviews_carry_the_words_reads_them_in_its_tfidf():
    f = fit(review_word_shop(), TrainParams(objective="ranking", **QUICK))
    nxt = f.validation["next_items"]
    assert nxt["evidence"]["lexical_text"] == "reviews"
    figures = nxt["candidates"]
    assert figures["tfidf_reviews"] > figures["popularity"] + 0.2  # the themes, from the reviews
    assert figures["tfidf_reviews"] > figures["tfidf"] + 0.2  # the catalog words alone: random numbers
    # Served with them where the term has weight: the lexical term's documents hold the reviews.
    g = fit(review_word_shop(), TrainParams(objective="ranking", select=False, lexical_weight=1.0,
                                            lexical_text="reviews", **QUICK))
    assert g.terms["lexical"]["weight"] == 1.0 and g.terms["lexical"]["text"] == "reviews"


def test_the_lexical_documents_hold_only_the_reviews_of_the_rows_given():
    data = review_word_shop()
    rows = np.arange(0, len(data.users), 2)
    docs = lexical.documents(data, rows)
    held_out = next(r for r in range(1, len(data.users), 2) if data.review_texts[r] not in docs[data.items[r]])
    assert data.review_texts[held_out] not in docs[data.items[held_out]]
    assert all(data.review_texts[r] in docs[data.items[r]] for r in rows[:50])


def meaning_shop(seed: int = 0) -> TrainData:
    """``word_shop`` turned around: the themes are in the text vectors (each item's vector its theme's
    direction plus noise, as an encoder reads "puppy leash" and "hound collar" alike) and not in the words
    (each title a random number): only dense text similarity places a new item by its text."""
    data = word_shop(seed)
    rng = np.random.default_rng(seed + 2)
    theme = np.arange(data.n_items) % 20
    centres = rng.normal(size=(20, 32))
    text = (centres[theme] + 0.5 * rng.normal(size=(data.n_items, 32))).astype(np.float32)
    return replace(data, item_text=text, item_words=[f"article {rng.integers(1e6)}" for _ in range(data.n_items)])


def test_a_shop_whose_texts_mean_alike_in_other_words_reads_its_text_vectors():
    f = fit(meaning_shop(), TrainParams(objective="ranking", **QUICK))
    new, nxt = f.validation["new_items"], f.validation["next_items"]
    assert new["evidence"]["content_text"] == "vectors" and nxt["evidence"]["lexical_text"] == "vectors"
    assert new["candidates"]["dense_text"] > new["candidates"]["tfidf"] + 0.2  # the titles say nothing
    assert nxt["candidates"]["dense_text"] > nxt["candidates"]["tfidf"] + 0.2
    if new["weights"]["content_weight"] > 0:  # served as chosen: the content term reads the vectors
        assert f.terms["content"]["text"] == "vectors"
    assert f.terms["content"]["weight"] == new["weights"]["content_weight"]


def test_dense_text_similarity_reads_catalog_vectors_never_the_reviews_of_held_out_events():
    """Vectors that read shoppers' reviews are re-read from the catalog text once, for every reviewed item;
    without that they are not scored at all (the held-out events' reviews are in them)."""
    from app.trainer import content

    data = replace(meaning_shop(), item_reviewed=np.ones(440, bool))
    data.item_reviewed[400:] = False  # no events, no reviews
    assert content.catalog_vectors(data) is None
    read = []

    def catalog_vectors(items):
        read.append(items)
        return np.full((len(items), data.item_text.shape[1]), 7.0, np.float32)

    again = carve.with_catalog_text(data, catalog_vectors)
    assert [r.tolist() for r in read] == [list(range(400))]
    assert (content.catalog_vectors(again)[:400] == 7.0).all()
    assert np.array_equal(content.catalog_vectors(again)[400:], data.item_text[400:])
    c = carve.carve(again, seed=0)
    shown = carve.validation_data(again, c, catalog_vectors)
    assert len(read) == 1 and (shown.item_text[c.new_items] == 7.0).all()  # the stripped items: the same reads
