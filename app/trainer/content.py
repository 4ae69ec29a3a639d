"""A lexical term for items no one has had yet, next to the factors, served by the same inner product.

An item without events enters factor space only through the learned text map, and on short catalog texts that
map is both weaker and less stable than plain TF-IDF matching (ML-100K P3, docs/training.md). This term adds
TF-IDF's answer for those items: the catalog texts' TF-IDF in rank-r LSA (as good as the exact cosine on ML-100K
P3), the item side L_i for items without training events and zero for the others (their events say more: the
term costs P2 where it touches them), the user side the unit mean of L over the user's items, scaled to the
spread of the user's factor scores over the items without events, then by the weight. Where the items are read
with their shoppers' reviews the text map already has the words, and the term adds little or costs (Gift Cards):
the weight shrinks with the share of reviewed items. Where the shop's carve prefers it (``content_text``), L is
instead the items' catalog text vectors in their principal directions (``vector_side``): dense text similarity,
which matches meanings where the words differ.

    factors, info = widen(data, factors, params)   # data.item_words: the catalog text of each item
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from app.trainer import terms
from app.trainer.types import Factors, TrainData, TrainParams


def widen(data: TrainData, factors: Factors, p: TrainParams, base: Factors | None = None) -> tuple[Factors, dict]:
    """The ranking ``factors`` with the content term appended; unchanged with weight or rank 0, without item
    texts, or when every item has events (the term would be all zeros). ``base``: the factors before any
    term, whose spread the term is brought to (default ``factors``). The weight is taken as it is: chosen on
    the shop's new-items carve, or ``unchosen_weight``'s."""
    base = base or factors
    cold = np.bincount(data.items, minlength=data.n_items) == 0
    reviewed = reviewed_share(data)
    weight = p.content_weight
    info = {"rank": 0, "weight": 0.0, "items": int(cold.sum()), "reviewed_share": round(reviewed, 4)}
    if weight <= 0 or p.content_rank < 1 or not cold.any():
        return factors, info
    lsa = side(data, p.content_text, p.content_rank, p.seed)
    if lsa is None:
        return factors, info
    profiles = np.asarray(terms.binary(data) @ lsa)
    profiles /= np.maximum(np.linalg.norm(profiles, axis=1, keepdims=True), 1e-12)
    # On the spread of the user's factor scores over the items the term touches: among cold items the factor
    # scores (the text map's) spread about 20 times less than over the catalog (ML-100K).
    # Where the factors cannot tell cold items apart at all (no text vectors), over the catalog instead.
    users, cold_items = np.arange(data.n_users), np.flatnonzero(cold)
    scale = terms.scales(base, users, profiles, lsa, cold_items[terms.sample_items(len(cold_items))])
    flat = scale <= 1e-9
    if flat.any():
        scale[flat] = terms.scales(base, users[flat], profiles[flat], lsa, terms.sample_items(data.n_items))
    profiles *= (weight * scale)[:, None]
    served = np.where(cold[:, None], lsa, 0.0)
    r = lsa.shape[1]
    return terms.appended(factors, profiles.astype(np.float32), served.astype(np.float32)), {
        **info, "rank": r, "weight": round(weight, 4), "text": p.content_text}


def unchosen_weight(data: TrainData, p: TrainParams, rows: np.ndarray | None = None) -> float:
    """The content weight where no carve chose it: ``p.content_weight`` shrunk to 0 as the share of reviewed
    items grows to 1 (the text map already read the shoppers' words: chosen on ML-100K's and Gift Cards' P3
    validation carves, docs/training.md)."""
    return p.content_weight * (1.0 - reviewed_share(data, rows))


def reviewed_share(data: TrainData, rows: np.ndarray | None = None) -> float:
    """The share of the items with events (among ``rows``; default all) whose text vector read their shoppers'
    reviews."""
    items = data.items if rows is None else data.items[rows]
    cold = np.bincount(items, minlength=data.n_items) == 0
    return 0.0 if data.item_reviewed is None or cold.all() else float(data.item_reviewed[~cold].mean())


def scale_text_map(data: TrainData, factors: Factors, weight: float) -> Factors:
    """The text map's share ``weight`` in the scores of items without events: their factors (never the
    appended terms' columns) times ``weight``, their biases pulled to the mean of theirs by as much, so new
    items keep their level beside the others and only their order among themselves moves."""
    cold = np.bincount(data.items, minlength=data.n_items) == 0
    if weight == 1.0 or not cold.any():
        return factors
    k = factors.item_factors.shape[1] - factors.appended_width
    q, b = factors.item_factors.copy(), factors.item_bias.copy()
    q[cold, :k] *= weight
    b[cold] = weight * b[cold] + (1.0 - weight) * float(b[cold].mean())
    return replace(factors, item_factors=q, item_bias=b)


def side(data: TrainData, text: str, rank: int, seed: int) -> np.ndarray | None:
    """The item side a term reads: ``catalog``, the LSA of the catalog words' TF-IDF; ``vectors``, the
    principal coordinates of the items' catalog text vectors (``vector_side``)."""
    if text == "vectors":
        return _vector_side_of(data, rank, seed)
    return item_side(data.item_words, rank, seed) if data.item_words else None


_LAST_VECTORS: tuple = ((), None)  # ((the arrays read, rank, seed), side): the job in hand's


def _vector_side_of(data: TrainData, rank: int, seed: int) -> np.ndarray | None:
    """``vector_side`` of ``catalog_vectors(data)``, kept for the very arrays it was made from: a job asks for
    it up to four times (both carves, both terms), and the validation data shares the full data's catalog
    vectors once they were re-read."""
    global _LAST_VECTORS
    sources = (data.item_catalog_text, data.item_text, data.item_has_text, data.item_reviewed)
    held, out = _LAST_VECTORS
    if held and held[1] == (rank, seed) and all(a is b for a, b in zip(held[0], sources, strict=True)):
        return out
    out = vector_side(catalog_vectors(data), rank, seed)
    _LAST_VECTORS = ((sources, (rank, seed)), out)
    return out


def catalog_vectors(data: TrainData) -> np.ndarray | None:
    """Each item's text vector read from its catalog text alone (zero rows: no text), or None where the
    vectors read reviews and were not re-read (``app.trainer.carve.with_catalog_text``)."""
    if data.item_text is None:
        return None
    if data.item_catalog_text is not None:
        vectors = data.item_catalog_text
    elif data.item_reviewed is None or not data.item_reviewed.any():
        vectors = data.item_text
    else:
        return None
    return vectors if data.item_has_text is None else np.where(data.item_has_text[:, None], vectors, 0.0)


def vector_side(vectors: np.ndarray | None, rank: int, seed: int) -> np.ndarray | None:
    """Dense text similarity as an inner product: the unit text vectors, centred over the items that have
    one, in their top ``rank`` principal directions (rows of about unit length, as ``item_side``'s; zero
    rows stay zero). None: no vectors, or fewer than two items with one."""
    if vectors is None:
        return None
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    has = norms[:, 0] > 0
    if has.sum() < 2:
        return None
    unit = np.where(has[:, None], vectors / np.maximum(norms, 1e-12), 0.0).astype(np.float64)
    unit[has] -= unit[has].mean(0)
    r = min(rank, int(has.sum()) - 1, unit.shape[1])
    _, directions = np.linalg.eigh(unit[has].T @ unit[has])  # ascending: the last r are the top ones
    out = unit @ directions[:, ::-1][:, :r]
    out[~has] = 0.0
    return out


_LAST: tuple = (None, None, None)  # (words, (rank, seed), LSA): the catalog of the job in hand


def item_side(words: list[str], rank: int, seed: int) -> np.ndarray | None:
    """The rank-``rank`` LSA of the texts' TF-IDF (rows of about unit length, as the TF-IDF rows are; scaling
    them to exactly 1 inflates what the truncation lost, and ranked worse) (None: no vocabulary to speak of).
    A job asks for the same catalog's up to four times (the choice's two carves, the lexical and content
    terms): the last one is kept, for that very list of words (by identity: the list is never changed)."""
    global _LAST
    held, key, lsa = _LAST
    if held is words and key == (rank, seed):
        return lsa
    lsa = lsa_of(words, rank, seed)
    _LAST = (words, (rank, seed), lsa)
    return lsa


def lsa_of(words: list[str], rank: int, seed: int) -> np.ndarray | None:
    """``item_side`` without the cache: for documents other than the catalog's (``lexical.documents``)."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    try:
        tfidf = TfidfVectorizer().fit_transform([w or "" for w in words])
    except ValueError:  # an empty vocabulary: no text has a word in it
        return None
    r = min(rank, tfidf.shape[0] - 1, tfidf.shape[1] - 1)
    if r < 1:
        return None
    return TruncatedSVD(r, random_state=seed).fit_transform(tfidf)
