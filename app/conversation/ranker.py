"""A conversation's next k items: its needs as one query vector, moved by feedback, mixed with the shopper's
tastes, searched under the stated limits.

- **The words**: the current topic's wishes, encoded and mapped into user space through the text map, as
  ``POST /v1/recommendations`` does with a query.
- **Feedback, Rocchio-style** (Rocchio 1971; the weights of Manning et al., *Introduction to Information
  Retrieval* §9.1.1: 1, 0.75, 0.15): in text space, the liked items' text vectors are added to the query's and
  the disliked ones' taken away before the map; in factor space, the liked items' served vectors (factors and
  the appended item-kNN and content terms, so "like it" includes "bought with it") are added the same way.
- **Tastes**: with a ``user_id`` the user's vector is mixed in half and half, as with a query, and their seen
  items stay out.
- **Limits as filters**: price, named categories, excluded words (title or category), disliked items. Items
  already shown go after the others, so they return only when nothing else fits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from app.conversation import reasons
from app.conversation.needs import Needs
from app.conversation.understand import word_forms
from app.recommender import ranking
from app.recommender.service import Recommender
from app.recommender.state import State

ALPHA, BETA, GAMMA = 1.0, 0.75, 0.15


@dataclass
class Answer:
    model_version: str | None
    items: list[dict]  # item_id, score, title, because
    strategy: str


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 1e-8 else v


def _mean_unit(rows: list[np.ndarray]) -> np.ndarray | None:
    return _unit(np.mean([_unit(r) for r in rows], axis=0)) if rows else None


def answer(rec: Recommender, needs: Needs, user_id: str | None, k: int) -> Answer:
    feedback_ids = needs.liked + needs.disliked
    state, taste, seen, texts = rec.taste(user_id, feedback_ids)
    cat = state.catalog
    liked = [p for i in needs.liked if (p := cat.positions.get(i)) is not None]
    disliked = [p for i in needs.disliked if (p := cat.positions.get(i)) is not None]
    eligible = _eligible(state, needs, seen, disliked)
    vector = _vector(rec, state, needs, taste, liked, disliked, texts)
    if vector is None:
        strategy = "popular"
        positions, scores = _ranked(state, None, eligible, _shown(state, needs), k)
    else:
        strategy = "personalized" if taste is not None else "text"
        positions, scores = _ranked(state, vector, eligible, _shown(state, needs), k)
    items = rec._items(state, positions, scores)
    because = reasons.because(state, positions, needs, liked, taste is not None)
    for item, why in zip(items, because, strict=True):
        item["because"] = why
    return Answer(state.model.version if state.model else None, items, strategy)


def _vector(rec: Recommender, state: State, needs: Needs, taste: np.ndarray | None, liked: list[int],
            disliked: list[int], texts: dict[str, np.ndarray]) -> np.ndarray | None:
    """The query in user space, or None when there is nothing to go by (no model, or no words, feedback or
    tastes): then the most popular items that fit."""
    model = state.model
    if model is None:
        return None
    parts = []
    if needs.query and model.factors.item_map is not None:
        text = _unit(rec.query_encoder().encode([needs.query])[0].astype(np.float64))
        liked_texts = _mean_unit([texts[i] for i in needs.liked if i in texts])
        disliked_texts = _mean_unit([texts[i] for i in needs.disliked if i in texts])
        moved = ALPHA * text
        if liked_texts is not None:
            moved = moved + BETA * liked_texts
        if disliked_texts is not None:
            moved = moved - GAMMA * disliked_texts
        parts.append(ALPHA * _unit(rec.text_query(model, moved.astype(np.float32)).astype(np.float64)))
    liked_rows = _mean_unit([v[:-1] for p in liked if (v := rec._item_vector(state, p)) is not None])
    disliked_rows = _mean_unit([v[:-1] for p in disliked if (v := rec._item_vector(state, p)) is not None])
    if liked_rows is not None:
        parts.append(BETA * liked_rows)
    if disliked_rows is not None and (parts or taste is not None):  # dislikes alone say nothing to go towards
        parts.append(-GAMMA * disliked_rows)
    if not parts:
        return None if taste is None else taste
    asked = _unit(np.sum(parts, axis=0)) * model.user_norm
    if taste is None:
        return asked.astype(np.float32)
    return (0.5 * taste + 0.5 * asked).astype(np.float32)


def _eligible(state: State, needs: Needs, seen: set[int], disliked: list[int]) -> np.ndarray:
    cat = state.catalog
    mask = cat.eligible(None, needs.min_price, needs.max_price)
    if needs.category:
        codes = [cat.categories[c] for c in needs.category if c in cat.categories]
        mask &= np.isin(cat.category_codes, codes)
    for word in needs.exclude:
        mask &= ~mentions(cat, word)
    if seen:
        mask[list(seen)] = False
    if disliked:
        mask[disliked] = False
    return mask


def _shown(state: State, needs: Needs) -> np.ndarray:
    shown = np.zeros(len(state.catalog.item_ids), bool)
    positions = [p for i in needs.shown if (p := state.catalog.positions.get(i)) is not None]
    shown[positions] = True
    return shown


def _ranked(state: State, vector: np.ndarray | None, eligible: np.ndarray, shown: np.ndarray, k: int):
    """The top k of the eligible items not shown yet, then (only if fewer than k) of those shown before."""
    blocks = []
    for mask in (eligible & ~shown, eligible & shown):
        want = k - sum(len(p) for p, _ in blocks)
        if want <= 0 or not mask.any():
            continue
        if vector is None:
            p, s = ranking.popular(state, mask, want)
        else:
            query = np.append(vector, 1.0).astype(np.float32)
            p, s = ranking.search(state, state.model.index, state.fresh_vectors, query, mask, want)
        s = np.asarray(s, np.float64)
        if blocks and len(s):  # shown again only below every item not shown yet
            s = s - (s.max() - blocks[0][1].min()) - 1.0
        blocks.append((np.asarray(p, np.int64), s))
    if not blocks:
        return np.zeros(0, np.int64), np.zeros(0)
    return np.concatenate([p for p, _ in blocks]), np.concatenate([s for _, s in blocks])


_MENTIONS: tuple = (None, {})  # (the catalog, {word: mask}): swapped whole, so threads never mix catalogs


def mentions(cat, word: str) -> np.ndarray:
    """Positions whose title or category holds ``word`` (singular or plural, whole words). Cached for the
    served catalog: an exclusion stated once is asked again on every later message."""
    global _MENTIONS
    held, words = _MENTIONS
    if held is not cat:
        words = {}
        _MENTIONS = (cat, words)
    if word not in words:
        pattern = re.compile(r"\b(?:" + "|".join(sorted(map(re.escape, word_forms(word)))) + r")\b", re.IGNORECASE)
        names = {code: bool(pattern.search(name)) for name, code in cat.categories.items()}
        words[word] = np.fromiter((bool(t is not None and pattern.search(t)) or names.get(int(c), False)
                                   for t, c in zip(cat.titles, cat.category_codes, strict=True)), bool,
                                  len(cat.item_ids))
    return words[word]
