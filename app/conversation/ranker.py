"""A conversation's next k items: its needs as one query vector, moved by feedback, mixed with the shopper's
tastes, searched under the stated limits.

- **The words**: the current topic's wishes, encoded and mapped into user space through the text map, as
  ``POST /v1/recommendations`` does with a query.
- **Feedback, Rocchio-style** (Rocchio 1971; the weights of Manning et al., *Introduction to Information
  Retrieval* §9.1.1: 1, 0.75, 0.15): in text space, the liked items' text vectors are added to the query's and
  the disliked ones' taken away before the map; in factor space, the liked items' served vectors (factors and
  the appended item-kNN and content terms, so "like it" includes "bought with it") are added the same way.
- **Tastes**: with a ``user_id`` the factor channel is the user's vector (moved by the feedback), and their
  seen items stay out; the words speak through their own channel (``SEMREC_CONVERSATION_QUERY_SHARE`` 0: on
  a validation carve the words mapped into factor space cost success@5 a quarter, scripts/analyse_conversation.py).
- **Two channels, one score**: the factor channel (inner product) and the words' channel (cosine of the
  wishes, moved by the feedback, to each item's text), each as standard scores over the eligible items,
  weighted 1 : ``SEMREC_CONVERSATION_TEXT_WEIGHT`` (1, chosen on the same carve).
- **Limits as filters**: price, named categories, excluded words (title or category), disliked items. Items
  already shown go after the others, so they return only when nothing else fits.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from app.conversation import reasons
from app.conversation import texts as text_channel
from app.conversation.needs import Needs, apply
from app.conversation.understand import word_forms
from app.recommender import ranking
from app.recommender.filters import NONE as NO_FILTERS
from app.recommender.filters import Filters
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
    if not rows:
        return None
    m = np.asarray(rows, np.float64)
    return _unit((m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-8)).mean(0))


def answer(rec: Recommender, needs: Needs, user_id: str | None, k: int, text: str | None = None,
           feedback: tuple[dict, ...] | list[dict] = (), filters: Filters = NO_FILTERS) -> Answer:
    """Hear the message (``text``, ``feedback``) into ``needs``, then rank: one read of the store for both (the
    served state, whose catalog names the categories, and the user's events)."""
    state, taste, seen = rec.taste(user_id)
    apply(needs, text, feedback, state.catalog.categories)  # a category stored a moment ago counts
    cat = state.catalog
    liked = [p for i in needs.liked if (p := cat.positions.get(i)) is not None]
    disliked = [p for i in needs.disliked if (p := cat.positions.get(i)) is not None]
    candidates = np.flatnonzero(_eligible(state, needs, seen, disliked, filters))
    words = _text_query(rec, state, needs, liked, disliked)
    vector = _vector(rec, state, needs, taste, liked, disliked, words, history=len(seen))
    cosine = text_channel.scores(rec.engine, state, candidates, words) if words is not None else None
    if vector is None and words is None:
        strategy, score = "popular", state.popularity[candidates].astype(np.float64)
    else:
        strategy = "personalized" if taste is not None else "text"
        score = np.zeros(len(candidates))
        if vector is not None:
            score += _z(ranking.model_scores(state, np.append(vector, 1.0).astype(np.float32), candidates),
                        valid_above=state.model.floor_score + 1.0)
        if cosine is not None and rec.settings.conversation_text_weight > 0:
            score += rec.settings.conversation_text_weight * _z(cosine)
    order, scores = _top(np.arange(len(candidates)), score, _shown(state, needs)[candidates],
                         state.popularity[candidates], k)
    positions = candidates[order]
    items = ranking.listed(state, positions, scores)
    closeness = dict(zip(positions.tolist(), cosine[order].tolist(), strict=True)) if cosine is not None else {}
    because = reasons.because(state, positions, needs, liked, taste is not None, closeness)
    for item, why in zip(items, because, strict=True):
        item["because"] = why
    return Answer(state.model.version if state.model else None, items, strategy)


def _z(x: np.ndarray, valid_above: float = -np.inf) -> np.ndarray:
    """Standard scores over the candidates, so the two channels weigh the same whatever their scales; a
    candidate without a vector (at the model's floor) goes below every other."""
    valid = x > valid_above
    out = np.zeros(len(x))
    if valid.any():
        v = x[valid]
        sd = float(v.std())
        out[valid] = (v - v.mean()) / sd if sd > 1e-12 else 0.0
        out[~valid] = out[valid].min() - 1.0
    return out


def _top(candidates: np.ndarray, score: np.ndarray, shown: np.ndarray, popularity: np.ndarray, k: int):
    """The k best of ``candidates`` (``popularity`` aligned with them): first those not shown yet, then (only if
    fewer than k) those shown before, each by score (ties: the more popular). Shown items are given scores
    below every unshown one."""
    order = np.lexsort((candidates, -popularity, -score, shown))[:k]
    positions, scores = candidates[order], score[order].astype(np.float64)
    again = shown[order]
    if again.any() and (~again).any():
        scores[again] = scores[again] - (scores[again].max() - scores[~again].min()) - 1.0
    return positions, scores


def _text_query(rec: Recommender, state: State, needs: Needs, liked: list[int], disliked: list[int]
                ) -> np.ndarray | None:
    """The wishes' text vector moved toward the liked items' texts and away from the disliked ones' (unit),
    or None: no words and no liked item with a text vector. ``liked``, ``disliked``: catalog positions."""
    if state.model is None:
        return None
    liked = _mean_unit(text_channel.rows(rec.engine, state, liked))
    disliked = _mean_unit(text_channel.rows(rec.engine, state, disliked))
    if needs.query:
        moved = ALPHA * _encoded(rec, needs.query)
    elif liked is not None:
        moved = np.zeros_like(liked)
    else:
        return None
    if liked is not None:
        moved = moved + BETA * liked
    if disliked is not None:
        moved = moved - GAMMA * disliked
    return _unit(moved).astype(np.float32)


_ENCODED: OrderedDict[tuple[int, str], np.ndarray] = OrderedDict()
_ENCODED_MAX = 4096


def _encoded(rec: Recommender, text: str) -> np.ndarray:
    """The wishes' unit text vector, kept for the next messages of the topic (feedback alone does not change
    the words, and encoding is most of a message's time)."""
    encoder = rec.query_encoder()
    key = (id(encoder), text)
    hit = _ENCODED.get(key)
    if hit is None:
        hit = _unit(encoder.encode([text])[0].astype(np.float64))
        _ENCODED[key] = hit
        while len(_ENCODED) > _ENCODED_MAX:
            _ENCODED.popitem(last=False)
    return hit


def _vector(rec: Recommender, state: State, needs: Needs, taste: np.ndarray | None, liked: list[int],
            disliked: list[int], words: np.ndarray | None, history: int = 0) -> np.ndarray | None:
    """The factor channel's query: the user's tastes (with the words through the text map, at the share
    ``conversation_query_share``; the words alone for an anonymous shopper), moved toward the liked items'
    served vectors and away from the disliked ones' (Rocchio). For a known user the feedback weighs as the
    events it adds to their ``history`` of events would (a like among 80 events moves them little, among 4 a
    lot; full-weight Rocchio cost success@5 on the validation carve, docs/conversation.md). None when there is
    nothing to go by."""
    model = state.model
    if model is None:
        return None
    mapped = None
    if words is not None and model.factors.item_map is not None:
        mapped = _unit(rec.text_query(model, words).astype(np.float64))
    share = rec.settings.conversation_query_share
    if taste is not None:
        start = _unit(taste.astype(np.float64))
        if mapped is not None and share > 0:
            start = (1 - share) * start + share * mapped
    else:
        start = mapped
    parts = [ALPHA * start] if start is not None else []
    n = len(liked) + len(disliked)
    evidence = n / (n + history) if taste is not None and n else 1.0
    liked_rows = _mean_unit([v[:-1] for p in liked if (v := ranking.item_vector(state, p)) is not None])
    disliked_rows = _mean_unit([v[:-1] for p in disliked if (v := ranking.item_vector(state, p)) is not None])
    if liked_rows is not None:
        parts.append(BETA * evidence * liked_rows)
    if disliked_rows is not None and parts:  # dislikes alone say nothing to go towards
        parts.append(-GAMMA * evidence * disliked_rows)
    if not parts:
        return None
    scale = float(np.linalg.norm(taste)) if taste is not None else model.user_norm
    return (_unit(np.sum(parts, axis=0)) * scale).astype(np.float32)


def _eligible(state: State, needs: Needs, seen: set[int], disliked: list[int], filters: Filters) -> np.ndarray:
    """What the shopper asked for, within what the shop's filters let in."""
    cat = state.catalog
    mask = cat.eligible(None, needs.min_price, needs.max_price)
    if filters.any:
        mask &= filters.mask(cat)
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
