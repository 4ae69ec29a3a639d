"""The new-shoppers route family: what ranks a user known by a handful of events (1 to ``few_events_max``),
chosen per shop on the new-users carve (``app.trainer.carve``: users cut to their first three events; what
they went on to have is the answer).

The candidates are each servable from what a version holds (``app.model.neighbours``):

- ``neighbours``: the established users the visitor resembles, by their profile text and the likelihood of
  the visitor's events under their factors (the default);
- ``item_knn``: the items that co-occur with the visitor's own in those users' histories (cosine);
- ``popularity``: the items most had;
- ``factors``: the visitor's own factor vector (a fold-in of their events at serving).

The first three rank what some reference had first, then the rest in the model's order, as served. The rule
that switches from the default is ``selection.decide``'s, the same as every route family's.

    report = choose(shown, carve, validated_factors, params)
    report["chosen"]  # "item_knn": what ``Trained.few_events`` serves
"""

from __future__ import annotations

import numpy as np

from app.model import neighbours
from app.trainer.carve import Carve
from app.trainer.selection import decide, top_k
from app.trainer.types import Factors, TrainData

DEFAULT = "neighbours"
NDCG_AT = 10  # the length of the list a new visitor sees first


def references(data: TrainData) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """What a version keeps for users with few events: every user's training items (indptr, items), the
    reference users (``neighbours.pick``) and their unit profile vectors (None without user text)."""
    indptr, items = neighbours.histories(data.users, data.items, data.n_users)
    chosen = neighbours.pick(indptr)
    has_text = None if data.user_has_text is None else data.user_has_text[chosen]
    profiles = None if data.user_text is None else neighbours.unit_profiles(data.user_text[chosen], has_text)
    return indptr, items, chosen, profiles


def choose(data: TrainData, c: Carve, factors: Factors) -> dict | None:
    """The report of the new-users carve (the shape of ``selection.Choice.report``, with no weights), or None
    where there is nothing to choose on: no carved users, or too few established users to compare with (the
    factors then rank everyone, as served)."""
    if not len(c.new_users) or not len(c.new_user_rows):
        return None
    indptr, items, chosen_refs, profiles = references(data.only(c.fit_rows))  # as the version keeps them
    if not len(chosen_refs):
        return None
    has_text = data.user_has_text if data.user_text is not None else None
    item_vectors = np.hstack([factors.item_factors, factors.item_bias[:, None]]).astype(np.float32)
    refs = neighbours.build(chosen_refs, factors.user_factors, item_vectors, indptr, items, profiles)
    counts = np.bincount(data.items[c.fit_rows], minlength=data.n_items).astype(np.float32)
    truth_indptr, truth = neighbours.histories(data.users[c.new_user_rows], data.items[c.new_user_rows],
                                               data.n_users)
    k = min(NDCG_AT, top_k(data.n_items))
    per_user: dict[str, list[float]] = {name: [] for name in neighbours.STRATEGIES}
    for u in c.new_users:
        had = items[indptr[u]: indptr[u + 1]]
        wanted = np.setdiff1d(truth[truth_indptr[u]: truth_indptr[u + 1]], had)
        if not len(had) or not len(wanted):  # all three of their first events were on stripped items
            continue
        model = item_vectors @ np.append(factors.user_factors[u], 1.0).astype(np.float32)
        profile = data.user_text[u] if has_text is not None and has_text[u] else None
        for name in neighbours.STRATEGIES:  # each as served (``neighbours.first_scores``, then ``ranked``)
            first = neighbours.first_scores(name, refs, item_vectors, had, profile, counts)
            ranked = model if first is None else neighbours.ranked(first, model)
            per_user[name].append(_ndcg(ranked, had, wanted, k))
    if len(per_user[DEFAULT]) < 5:
        return None
    arrays = {name: np.array(values) for name, values in per_user.items()}
    chosen, figures, evidence = decide(arrays, DEFAULT, list(neighbours.STRATEGIES))
    return {"served": figures[chosen], "chosen": chosen, "weights": {}, "candidates": figures,
            "events": len(arrays[DEFAULT]), "metric": f"ndcg@{k}", "evidence": evidence}


def _ndcg(scores: np.ndarray, had: np.ndarray, wanted: np.ndarray, k: int) -> float:
    """NDCG@k of the list (``had`` excluded) against ``wanted``. Not recall as the other carves: a carved
    user went on to have up to hundreds of items, and recall over them credits a list for many users' long
    tails, where a new visitor sees one short list; on ML-100K the two disagreed, and the test users followed
    NDCG (docs/training.md, "Chosen per shop")."""
    s = np.asarray(scores, np.float64).copy()
    s[had] = -np.inf
    kk = min(k, len(s) - 1)
    top = np.argpartition(-s, kk - 1)[:kk]
    top = top[np.argsort(-s[top], kind="stable")]
    discounts = 1.0 / np.log2(np.arange(2, kk + 2))
    return float((np.isin(top, wanted) * discounts).sum() / discounts[: min(kk, len(wanted))].sum())
