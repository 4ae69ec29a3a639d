import numpy as np

from app.evaluation.datasets import Dataset
from app.evaluation.protocols import Indexed, RankingSplit, p2_temporal, p3_cold_items, p4_cold_users, ranking_metrics


def toy() -> Indexed:
    users, items, ts = [], [], []
    for u in range(6):
        for n in range(12 if u < 3 else 4):
            users.append(str(u + 1))
            items.append(str((u + n) % 10 + 1))
            ts.append(1000 + 10 * n + u)
    ds = Dataset("toy", np.array(users), np.array(items), np.full(len(users), 4, np.float32), np.array(ts),
                 {str(i): f"item {i}" for i in range(1, 11)})
    return Indexed(ds)


def test_metrics_match_hand_computation():
    ix = toy()
    split = RankingSplit(np.zeros(len(ix.u), bool), np.array([0]), {0: {2, 5}}, exclude_train=False)
    scores = np.zeros((1, 10))
    scores[0, [2, 7, 5]] = [3, 2, 1]  # ranks: item 2 first, item 7 second, item 5 third
    m = ranking_metrics(scores, np.array([0]), split, ix, ks=(1, 3))
    assert m["recall@1"] == 0.5 and m["recall@3"] == 1.0
    idcg = 1 + 1 / np.log2(3)
    assert np.isclose(m["ndcg@3"], (1 + 1 / np.log2(4)) / idcg)
    assert np.isclose(m["ndcg@1"], 1.0)


def test_p2_holds_out_the_latest_fifth_of_each_user():
    ix = toy()
    split = p2_temporal(ix)
    assert set(split.eval_users) == {0, 1, 2}  # users with >= 5 events
    for u in split.eval_users:
        events = np.flatnonzero(ix.u == u)
        test = events[~split.train[events]]
        assert len(test) == 3  # ceil(20% of 12)
        assert ix.ds.timestamps[test].min() > ix.ds.timestamps[events[split.train[events]]].max()


def test_p3_and_p4_are_seeded_and_remove_what_they_say():
    ix = toy()
    a, b = p3_cold_items(ix), p3_cold_items(ix)
    eligible = (np.bincount(ix.i) >= 5).sum()
    assert np.array_equal(a.candidates, b.candidates) and len(a.candidates) == round(0.2 * eligible) > 0
    assert not np.isin(ix.i[a.train], a.candidates).any()
    p4 = p4_cold_users(ix, min_events=10)
    for u in p4.eval_users:
        assert (split_train := p4.train[ix.u == u]).sum() == 3 and len(split_train) == 12


def test_excluding_training_items():
    ix = toy()
    split = p2_temporal(ix)
    scores = np.tile(np.arange(10, 0, -1, dtype=float), (3, 1))  # same order for everyone
    m = ranking_metrics(scores, split.eval_users, split, ix, ks=(10,))
    assert 0 <= m["recall@10"] <= 1


def test_texts_read_only_the_training_reviews_newest_first():
    users = np.array(["a", "a", "a", "b"])
    items = np.array(["x", "y", "x2", "x"])
    ds = Dataset("reviews", users, items, np.full(4, 5, np.float32), np.array([1, 2, 3, 2]),
                 {"x": "X", "y": "Y", "x2": "X2"}, reviews=np.array(["first", "", "held out", "second"], object),
                 item_records={i: {"item_id": i, "title": i.upper()} for i in ("x", "y", "x2")})
    ix = Indexed(ds)
    train = np.array([True, True, False, True])  # a's review of x2 is a test event
    item_texts, user_texts = ix.texts(train, item_reviews=5, user_reviews=5)
    by_item = dict(zip(ix.item_ids, item_texts, strict=True))
    assert by_item == {"x": "X. Review: second. Review: first", "x2": "X2", "y": "Y"}
    assert dict(zip(ix.user_ids, user_texts, strict=True)) == {"a": "first", "b": "second"}
    assert ix.texts(train, item_reviews=1, user_reviews=0)[0][ix.item_ids.index("x")] == "X. Review: second"


def test_any_amazon_category_placed_in_a_folder_is_found_and_loaded(tmp_path):
    import gzip
    import json
    from pathlib import Path

    from app.evaluation import datasets

    folder = tmp_path / "amazon2018-toys"
    folder.mkdir()
    with gzip.open(folder / "meta_Toys_and_Games.json.gz", "wt") as f:
        for asin, title in (("T1", "Wooden train set"), ("T2", "Puzzle, 1000 pieces")):
            f.write(json.dumps({"asin": asin, "title": title, "category": ["Toys and Games", "Puzzles"],
                                "brand": "Acme", "description": ["Fun."], "price": "$12.50"}) + "\n")
    with gzip.open(folder / "Toys_and_Games_5.json.gz", "wt") as f:
        for n, (user, asin) in enumerate((("u1", "T1"), ("u1", "T2"), ("u2", "T1"))):
            f.write(json.dumps({"reviewerID": user, "asin": asin, "overall": 4.0, "unixReviewTime": 100 + n,
                                "reviewText": f"review {n}"}) + "\n")
    (tmp_path / "ml-100k").mkdir()  # without its files: not a data set
    assert datasets.available(tmp_path) == ["amazon2018-toys"]
    ds = datasets.load("amazon2018-toys", tmp_path)
    assert ds.name == "amazon-toys-and-games" and len(ds) == 3 and list(ds.reviews) == [f"review {n}" for n in
                                                                                       range(3)]
    assert ds.item_records["T1"] == {"item_id": "T1", "title": "Wooden train set", "category": "Puzzles",
                                     "description": "Fun.", "attributes": {"brand": "Acme"}, "price": 12.5}
    assert ds.item_text["T1"] == "Wooden train set. Category: Puzzles. Fun.. brand: Acme"
    shared = Path(__file__).resolve().parents[3] / "shared" / "data"
    if (shared / "amazon2018-giftcards").is_dir():  # the shared Gift Cards through the same loader
        assert "amazon2018-giftcards" in datasets.available(shared)
