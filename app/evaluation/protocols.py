"""The fixed protocols of shared PROTOCOLS.md: splits (P1-P4) and the ranking metrics, identical for every
method evaluated. A method sees a ``Task`` (training events over global indexes, texts) and returns scores."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from app.encoder.texts import item_text, user_text
from app.evaluation.datasets import Dataset


@dataclass
class Task:
    """Training events over global user/item indexes, and what the method may read."""

    n_users: int
    n_items: int
    users: np.ndarray
    items: np.ndarray
    ratings: np.ndarray
    timestamps: np.ndarray
    item_texts: list[str]  # by item index
    user_texts: list[str]  # by user index ("" when none)
    item_vectors: np.ndarray | None = None  # encoder vectors of item_texts
    user_vectors: np.ndarray | None = None
    catalog_texts: list[str] | None = None  # item texts without reviews: the catalog's fields alone
    reviews: np.ndarray | None = None  # each training event's review text ("" when none)


# A ranking method: fit on the task, return a function scoring all items for the given user indexes.
Ranker = Callable[[Task], Callable[[np.ndarray], np.ndarray]]
# A rating method: fit on the task, return a function predicting ratings for (user, item) index pairs.
Rater = Callable[[Task], Callable[[np.ndarray, np.ndarray], np.ndarray]]


@dataclass
class RankingSplit:
    train: np.ndarray  # bool mask over the data set's events
    eval_users: np.ndarray  # user indexes
    relevant: dict[int, set[int]]  # user -> relevant item indexes
    candidates: np.ndarray | None = None  # item indexes to rank (None: all items)
    exclude_train: bool = True  # drop the user's training items from the ranking


class Indexed:
    """A data set with users and items numbered in id order (numeric order where ids are numbers)."""

    def __init__(self, ds: Dataset):
        self.ds = ds
        self.user_ids = _sorted_ids(ds.users)
        self.item_ids = _sorted_ids(ds.items)
        u_index = {u: n for n, u in enumerate(self.user_ids)}
        i_index = {i: n for n, i in enumerate(self.item_ids)}
        self.u = np.array([u_index[u] for u in ds.users], np.int64)
        self.i = np.array([i_index[i] for i in ds.items], np.int64)
        self.item_texts = [ds.item_text.get(i, "") for i in self.item_ids]
        self.user_texts = [ds.user_text.get(u, "") for u in self.user_ids]

    def task(self, train: np.ndarray, item_vectors=None, user_vectors=None, texts=None) -> Task:
        """The training events ``train``; ``texts``: (item texts, user texts) when they depend on the split."""
        item_texts, user_texts = texts or (self.item_texts, self.user_texts)
        return Task(len(self.user_ids), len(self.item_ids), self.u[train], self.i[train], self.ds.ratings[train],
                    self.ds.timestamps[train], item_texts, user_texts, item_vectors, user_vectors, self.item_texts,
                    None if self.ds.reviews is None else self.ds.reviews[train])

    def texts(self, train: np.ndarray, item_reviews: int, user_reviews: int) -> tuple[list[str], list[str]]:
        """(item texts, user texts) by index, as the service composes them from what was posted to it: the
        catalog fields plus each item's latest ``item_reviews`` review texts, the profile plus each user's latest
        ``user_reviews``, newest first (ties: the later posted first), from the training events ``train`` only."""
        ds = self.ds
        if ds.reviews is None:
            return self.item_texts, self.user_texts
        events = np.flatnonzero(train & (ds.reviews != ""))
        events = events[np.lexsort((-events, -ds.timestamps[events]))]  # newest first, later posted first
        by_item: dict[int, list[str]] = {}
        by_user: dict[int, list[str]] = {}
        for e in events:
            for index, texts, limit in ((int(self.i[e]), by_item, item_reviews), (int(self.u[e]), by_user,
                                                                                   user_reviews)):
                got = texts.setdefault(index, [])
                if len(got) < limit:
                    got.append(ds.reviews[e])
        items = []
        for n, item_id in enumerate(self.item_ids):
            r = ds.item_records.get(item_id)
            items.append(item_text(r.get("title"), r.get("category"), r.get("description"), r.get("attributes"),
                                   by_item.get(n, ())) if r else self.item_texts[n])
        users = [user_text(profile, by_user.get(n, ())) for n, profile in enumerate(self.user_texts)]
        return items, users

    def time_order(self) -> np.ndarray:
        """Events sorted by (timestamp, item id)."""
        return np.lexsort((self.i, self.ds.timestamps))


def _sorted_ids(ids: np.ndarray) -> list[str]:
    unique = np.unique(ids).tolist()
    return sorted(unique, key=int) if all(x.isdigit() for x in unique) else unique


def p2_temporal(ix: Indexed, test_share: float = 0.2, min_events: int = 5) -> RankingSplit:
    """Per user with >= 5 events, the last ceil(20%) by (timestamp, item id) are the test set."""
    order = ix.time_order()
    train = np.ones(len(ix.u), bool)
    relevant: dict[int, set[int]] = {}
    per_user: dict[int, list[int]] = {}
    for e in order:
        per_user.setdefault(int(ix.u[e]), []).append(int(e))
    for user, events in per_user.items():
        if len(events) >= min_events:
            n_test = math.ceil(test_share * len(events))
            test = events[-n_test:]
            train[test] = False
            relevant[user] = {int(ix.i[e]) for e in test}
    return RankingSplit(train, np.array(sorted(relevant)), relevant)


def p3_cold_items(ix: Indexed, share: float = 0.2, min_events: int = 5) -> RankingSplit:
    """20% of items with >= 5 events (default_rng(0), over sorted ids) lose all their events; users who had
    any rank all cold items."""
    counts = np.bincount(ix.i, minlength=len(ix.item_ids))
    eligible = np.flatnonzero(counts >= min_events)  # item indexes are in sorted id order
    n_cold = int(round(share * len(eligible)))
    cold = np.sort(np.random.default_rng(0).choice(eligible, size=n_cold, replace=False))
    is_cold = np.isin(ix.i, cold)
    relevant: dict[int, set[int]] = {}
    for u, i in zip(ix.u[is_cold], ix.i[is_cold], strict=True):
        relevant.setdefault(int(u), set()).add(int(i))
    return RankingSplit(~is_cold, np.array(sorted(relevant)), relevant, candidates=cold, exclude_train=False)


def p4_cold_users(ix: Indexed, share: float = 0.2, min_events: int = 10, keep: int = 3, seed: int = 1,
                  within: np.ndarray | None = None, exclude: np.ndarray | None = None) -> RankingSplit:
    """20% of users with >= 10 events (default_rng(1)) keep only their first 3 events (by time) in training.
    ``within`` (a training mask) and ``exclude`` (user indexes) apply the same rule inside a training set, to
    carve a validation split from it."""
    train = np.ones(len(ix.u), bool) if within is None else within.copy()
    counts = np.bincount(ix.u[train], minlength=len(ix.user_ids))
    eligible = np.flatnonzero(counts >= min_events)
    if exclude is not None:
        eligible = np.setdiff1d(eligible, exclude)
    n_cold = int(round(share * len(eligible)))
    cold = set(np.random.default_rng(seed).choice(eligible, size=n_cold, replace=False).tolist())
    relevant: dict[int, set[int]] = {}
    seen: dict[int, int] = {}
    for e in ix.time_order():
        user = int(ix.u[e])
        if train[e] and user in cold:
            seen[user] = seen.get(user, 0) + 1
            if seen[user] > keep:
                train[e] = False
                relevant.setdefault(user, set()).add(int(ix.i[e]))
    return RankingSplit(train, np.array(sorted(relevant)), relevant)


# The ranking protocols' splits and their cut-offs (P6 ranks as P2 does), for every script and the service run.
SPLITS = {"P2": p2_temporal, "P3": p3_cold_items, "P4": p4_cold_users}
KS = {"P2": (10, 20), "P3": (10,), "P4": (10,), "P6": (10,)}


def ranking_metrics(scores: np.ndarray, users: np.ndarray, split: RankingSplit, ix: Indexed,
                    ks: tuple[int, ...]) -> dict[str, float]:
    """Recall@K and NDCG@K (binary relevance, IDCG over min(K, |test|)), averaged over the users."""
    candidates = split.candidates if split.candidates is not None else np.arange(scores.shape[1])
    s = scores[:, candidates].astype(np.float64)
    if split.exclude_train:
        train_u, train_i = ix.u[split.train], ix.i[split.train]
        row = {u: n for n, u in enumerate(users)}
        col = np.full(scores.shape[1], -1)
        col[candidates] = np.arange(len(candidates))
        keep = np.isin(train_u, users) & (col[train_i] >= 0)
        s[[row[u] for u in train_u[keep]], col[train_i[keep]]] = -np.inf
    kmax = max(ks)
    # Ties (a method that cannot tell items apart) are broken by one fixed random order, not by item id,
    # whose order carries information (in ML-100K low ids are older, more popular films).
    tie_break = np.random.default_rng(0).permutation(s.shape[1])
    top = np.lexsort((np.broadcast_to(tie_break, s.shape), -s), axis=1)[:, :kmax]
    return list_metrics(candidates[top], [split.relevant[int(user)] for user in users], ks)


def list_metrics(ranked: np.ndarray, relevant: list[set[int]], ks: tuple[int, ...]) -> dict[str, float]:
    """Recall@K and NDCG@K of ranked lists (one row of item ids per user, best first, at least max(ks) long)
    against each user's relevant items: the one definition every figure of the evaluation uses."""
    kmax = max(ks)
    out: dict[str, list[float]] = {f"{m}@{k}": [] for k in ks for m in ("recall", "ndcg")}
    discounts = 1.0 / np.log2(np.arange(2, kmax + 2))
    for row, rel in zip(ranked, relevant, strict=True):
        hits = np.array([item in rel for item in row[:kmax]], dtype=np.float64)
        for k in ks:
            out[f"recall@{k}"].append(hits[:k].sum() / len(rel))
            idcg = discounts[: min(k, len(rel))].sum()
            out[f"ndcg@{k}"].append((hits[:k] * discounts[:k]).sum() / idcg)
    return {name: float(np.mean(v)) for name, v in out.items()}


def evaluate_ranker(method: Ranker, ix: Indexed, split: RankingSplit, ks: tuple[int, ...], **inputs) -> dict:
    task = ix.task(split.train, **inputs)
    score = method(task)
    users = split.eval_users
    scores = np.vstack([score(users[n : n + 512]) for n in range(0, len(users), 512)])
    out = ranking_metrics(scores, users, split, ix, ks)
    if getattr(score, "chosen", None):  # settings a method chose on its own validation split (EASE's λ)
        out["chosen"] = score.chosen
    return out


def rmse_mae(pred: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    pred = np.clip(pred, 1, 5)
    return float(np.sqrt(np.mean((pred - truth) ** 2))), float(np.mean(np.abs(pred - truth)))


def package_versions(packages: tuple[str, ...]) -> dict[str, str]:
    """Python's and each package's version, for a report (PROTOCOLS.md, Reporting): "not installed" if absent."""
    import platform
    from importlib import metadata

    out = {"python": platform.python_version()}
    for pkg in packages:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out
