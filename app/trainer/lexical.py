"""A TF-IDF term over every item, next to the factors, served by the same inner product: the shop whose buyers
follow item words (a user's next item shares words with the ones they had) is ranked by those words.

The item side is the rank-r LSA of every item's catalog words (``content.item_side``), or, where the shop's carve
chose them (``lexical_text``), of its catalog words and its events' review texts (``reviews``: on a review-rich
shop the shoppers' words say what an item is for) or its catalog text vector in their principal directions
(``vectors``: dense text similarity, ``content.vector_side``). The user side is the unit mean of it over the
user's items, scaled to the spread of the user's factor scores over the catalog, then by ``lexical_weight``
(chosen per shop by ``app.trainer.selection``; 0, the default, appends nothing).

    factors, info = widen(data, factors, params, base)
"""

from __future__ import annotations

import numpy as np

from app.trainer import content, terms
from app.trainer.types import Factors, TrainData, TrainParams


def widen(data: TrainData, factors: Factors, p: TrainParams, base: Factors) -> tuple[Factors, dict]:
    """``factors`` with the lexical term appended (unchanged at weight 0 or without words); ``base``: the
    factors whose spread the term is brought to."""
    info = {"rank": 0, "weight": 0.0}
    if p.lexical_weight <= 0 or p.content_rank < 1:
        return factors, info
    docs = documents(data) if p.lexical_text == "reviews" else None
    lsa = content.side(data, p.lexical_text, p.content_rank, p.seed) if docs is None else \
        content.lsa_of(docs, p.content_rank, p.seed)
    if lsa is None:
        return factors, info
    profiles = np.asarray(terms.binary(data) @ lsa)
    profiles /= np.maximum(np.linalg.norm(profiles, axis=1, keepdims=True), 1e-12)
    users = np.arange(data.n_users)
    profiles *= (p.lexical_weight * terms.scales(base, users, profiles, lsa, terms.sample_items(data.n_items)))[:, None]
    return (terms.appended(factors, profiles.astype(np.float32), lsa.astype(np.float32)),
            {"rank": lsa.shape[1], "weight": float(p.lexical_weight), "text": p.lexical_text})


def documents(data: TrainData, rows: np.ndarray | None = None) -> list[str] | None:
    """Each item's catalog words followed by the review texts of its events among ``rows`` (default all);
    None where no event has one."""
    if not data.review_texts or not data.item_words:
        return None
    allowed = None
    if rows is not None:
        allowed = np.zeros(len(data.users), bool)
        allowed[rows] = True
    parts = [[w or ""] for w in data.item_words]
    for row, text in data.review_texts.items():
        if allowed is None or allowed[row]:
            parts[data.items[row]].append(text)
    return [" ".join(p) for p in parts]
