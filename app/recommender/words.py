"""Words of queries, profiles and titles, and the items a shown one is closest to: what an explanation quotes
(``explain``: a user's ``because``; ``app.conversation``: a reply's)."""

from __future__ import annotations

import re

import numpy as np

from app.recommender import ranking
from app.recommender.state import State

LIKE_COSINE = 0.3  # closer than this to a liked item (served vectors, cosine): "like X, which you liked"
_STOP = frozenset("a an and or the of for to with in on at by from my me i im i'd id something some any "
                  "looking want need like would please gift new good nice great".split())
_WORD = re.compile(r"[\w'-]+")


def words_of(text: str | None) -> set[str]:
    return {singular(w) for w in _WORD.findall((text or "").lower()) if len(w) > 2 and w not in _STOP}


def matched(wish: str, words: set[str]) -> str:
    """The wish's words found in ``words``, in the wish's order and spelling ("running shoes")."""
    return " ".join(w for w in _WORD.findall(wish) if len(w) > 2 and w.lower() not in _STOP
                    and singular(w.lower()) in words)


def unit_rows(state: State, positions) -> tuple[list[int], np.ndarray | None]:
    """(positions kept, their served factor directions, unit length): items with no vector are left out."""
    kept, rows = [], []
    for p in positions:
        v = ranking.item_vector(state, int(p))
        if v is not None:
            kept.append(int(p))
            rows.append(v[:-1])
    if not rows:
        return [], None
    m = np.asarray(rows, np.float64)
    norms = np.linalg.norm(m, axis=1)
    ok = norms > 1e-8
    return [p for p, good in zip(kept, ok, strict=True) if good], (m[ok] / norms[ok, None]) if ok.any() else None


def closest_to(state: State, positions: np.ndarray, others: list[int]) -> dict[int, tuple[float, int]]:
    """Shown position -> (cosine, position) of the one of ``others`` (liked or seen items) it is closest to in
    the served factors; items without a vector are left out."""
    others_kept, others_rows = unit_rows(state, others)
    if others_rows is None:
        return {}
    shown_kept, shown_rows = unit_rows(state, positions.tolist())
    if shown_rows is None:
        return {}
    cos = shown_rows @ others_rows.T
    best = cos.argmax(1)
    return {p: (float(cos[n, best[n]]), others_kept[best[n]]) for n, p in enumerate(shown_kept)}


def singular(word: str) -> str:
    """A plain English singular, good enough to match "books" with "book" and "boxes" with "box"."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("ches", "shes", "xes", "sses", "zes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word
