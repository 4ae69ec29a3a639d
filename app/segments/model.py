"""Clustering users into segments (``faiss.Kmeans`` on unit taste vectors beside unit text vectors) and
describing them. What describes a segment is what it has *more* of than everyone: categories, words and items
ranked by their share in the segment times the log of that share over the overall one (the segment's part of
the KL divergence), so that the most popular things, which every segment has, are not every segment's label."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix

PREFIX = "segments_"  # the arrays' names in a version's .npz
MIN_SIZE = 20  # users per segment at least, on average: fewer users make fewer segments
TEXT_WEIGHT = 0.5  # the text vector's part beside the taste vector's (both unit length)
TOP = 3
_WORD = re.compile(r"[^\W\d_]{3,}")
_STOP = frozenset("the and for with from this that are was were you your our its has have had not but all any "
                  "can will into out more most very also one two genres released unknown".split())


def distinctive(in_segment: np.ndarray, overall: np.ndarray, top: int = TOP) -> np.ndarray:
    """Indexes of the ``top`` things (categories, words, items) the segment has more of than everyone, by
    share × log(share / overall share); only those with a lift above 1."""
    n_s, n = in_segment.sum(), overall.sum()
    if n_s <= 0 or n <= 0:
        return np.zeros(0, np.int64)
    share, base = in_segment / n_s, overall / n
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.where((share > base) & (base > 0), share * np.log(share / base), 0.0)
    order = np.argsort(-score, kind="stable")[:top]
    return order[score[order] > 0]


@dataclass
class Segments:
    of_user: np.ndarray  # int32 (n_users,): each model user's segment
    info: list[dict]  # per segment: segment_id, size, label, top_categories, top_items

    def of(self, user_pos: int | None) -> dict | None:
        if user_pos is None or not 0 <= user_pos < len(self.of_user):
            return None
        s = self.info[int(self.of_user[user_pos])]
        return {"segment_id": s["segment_id"], "label": s["label"]}

    def members(self, segment_id: int) -> np.ndarray:
        """Model user positions in the segment, in model order."""
        return np.flatnonzero(self.of_user == segment_id)

    def arrays(self) -> dict[str, np.ndarray]:
        return {PREFIX + "of_user": self.of_user, PREFIX + "info": np.array(json.dumps(self.info))}

    @classmethod
    def from_arrays(cls, z) -> Segments | None:
        if PREFIX + "of_user" not in z.files:
            return None  # a version trained before segments
        return cls(z[PREFIX + "of_user"], json.loads(str(z[PREFIX + "info"])))


def _unit(m: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return np.where(norms > 1e-8, m / np.maximum(norms, 1e-8), 0.0).astype(np.float32)


def vectors(taste: np.ndarray, text: np.ndarray | None, has_text: np.ndarray | None) -> np.ndarray:
    """What is clustered: [unit taste, TEXT_WEIGHT · unit text] (zeros where a user has no text)."""
    parts = [_unit(taste)]
    if text is not None:
        t = _unit(text)
        if has_text is not None:
            t[~has_text] = 0.0
        parts.append(TEXT_WEIGHT * t)
    return np.ascontiguousarray(np.hstack(parts), dtype=np.float32)


def cluster(x: np.ndarray, n_segments: int, seed: int = 0) -> np.ndarray:
    """Each row's segment: k-means with k = min(n_segments, rows / MIN_SIZE), at least 1."""
    k = max(1, min(n_segments, len(x) // MIN_SIZE))
    if k == 1:
        return np.zeros(len(x), np.int32)
    import faiss

    km = faiss.Kmeans(x.shape[1], k, niter=25, seed=seed, nredo=3, verbose=False, spherical=False)
    km.train(x)
    _, assigned = km.index.search(x, 1)
    labels = assigned[:, 0].astype(np.int32)
    # Segment ids by size, largest first; empty clusters dropped.
    sizes = np.bincount(labels, minlength=k)
    order = [c for c in np.argsort(-sizes, kind="stable") if sizes[c] > 0]
    remap = np.full(k, -1, np.int32)
    remap[order] = np.arange(len(order), dtype=np.int32)
    return remap[labels]


def _word_matrix(item_words: list[str]) -> tuple[csr_matrix, list[str]]:
    vocab: dict[str, int] = {}
    rows, cols = [], []
    for n, text in enumerate(item_words):
        for w in {w for w in _WORD.findall(text.lower()) if w not in _STOP}:
            rows.append(n)
            cols.append(vocab.setdefault(w, len(vocab)))
    m = csr_matrix((np.ones(len(rows), np.float64), (rows, cols)), shape=(len(item_words), len(vocab)))
    return m, list(vocab)


def fit(taste: np.ndarray, text: np.ndarray | None, has_text: np.ndarray | None, users: np.ndarray,
        items: np.ndarray, item_ids: list[str], item_categories: list[str | None] | None,
        item_words: list[str] | None, n_segments: int, seed: int = 0) -> Segments | None:
    """Segments of the model's users (rows of ``taste``), described from their events (``users``, ``items``:
    index arrays)."""
    if len(taste) == 0 or n_segments < 1:
        return None
    of_user = cluster(vectors(taste, text, has_text), n_segments, seed)
    n_items = len(item_ids)
    seg_of_event = of_user[users]
    k = int(of_user.max()) + 1
    events = csr_matrix((np.ones(len(items)), (seg_of_event, items)), shape=(k, n_items)).toarray()
    overall = events.sum(0)
    names = sorted({c for c in (item_categories or []) if c is not None})
    by_cat = None
    if names:
        index = {c: n for n, c in enumerate(names)}
        cat = np.array([index.get(c, -1) if c is not None else -1 for c in item_categories], np.int64)
        onehot = csr_matrix((np.ones(int((cat >= 0).sum())), (np.flatnonzero(cat >= 0), cat[cat >= 0])),
                            shape=(n_items, len(names)))
        by_cat = (csr_matrix(events) @ onehot).toarray()
    words, vocab = _word_matrix(item_words) if item_words else (None, [])
    by_word = (csr_matrix(events) @ words).toarray() if words is not None and vocab else None
    sizes = np.bincount(of_user, minlength=k)
    info = []
    for s in range(k):
        top_categories = [names[c] for c in distinctive(by_cat[s], by_cat.sum(0))] if by_cat is not None else []
        terms = [vocab[w] for w in distinctive(by_word[s], by_word.sum(0))] if by_word is not None else []
        top_items = [item_ids[i] for i in distinctive(events[s], overall, top=10)]
        label = ", ".join(top_categories[:2])
        if terms:
            label = f"{label} ({', '.join(terms)})" if label else ", ".join(terms)
        info.append({"segment_id": s, "size": int(sizes[s]), "label": label or f"segment {s}",
                     "top_categories": top_categories, "terms": terms, "top_items": top_items})
    return Segments(of_user, info)
