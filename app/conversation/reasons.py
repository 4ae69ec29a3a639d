"""Words for the shopper: each item's ``because`` and the answer's ``reply``. Both say only what the data
holds: a liked item the shown one is close to in the model, words of the wish found in its title or category,
its popularity; never a quality or a fact the catalog does not state."""

from __future__ import annotations

import re

import numpy as np

from app.conversation.needs import Needs
from app.conversation.understand import singular
from app.recommender import ranking
from app.recommender.state import State

LIKE_COSINE = 0.3  # closer than this to a liked item (served vectors, cosine): "like X, which you liked"
CLOSE_COSINE = 0.3  # the wishes' text vector this close to the item's (cosine): "close to '...'"
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


def because(state: State, positions: np.ndarray, needs: Needs, liked: list[int], has_taste: bool,
            closeness: dict[int, float] | None = None) -> list[str]:
    """Each item's reason, the first that holds: like a liked item, the wish's words in its title or category,
    its text close to the wishes' (``closeness``: cosine by position), the user's history, its popularity."""
    closeness = closeness or {}
    cat = state.catalog
    names = {code: name for name, code in cat.categories.items()}
    closest = closest_to(state, positions, liked)
    wishes = list(reversed(needs.wishes))  # the latest wish first
    out = []
    for p in positions.tolist():
        category = names.get(int(cat.category_codes[p]))
        near = closest.get(p)
        if near is not None and near[0] >= LIKE_COSINE:
            out.append(f"like {cat.titles[near[1]]}, which you liked")
            continue
        words = words_of(cat.titles[p]) | words_of(category)
        match = next((m for w in wishes if (m := matched(w, words))), None)
        if match is not None:
            out.append(f"matches '{match}'")
        elif wishes and closeness.get(p, 0.0) >= CLOSE_COSINE:
            out.append(f"close to '{wishes[0]}'")
        elif has_taste:
            out.append("in line with your past choices")
        elif state.popularity[p] > 0:
            out.append(f"popular in {category}" if category else "popular now")
        else:
            out.append(f"also in {category}" if category else "also available")
    return out


def _money(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,.2f}"


def reply(needs: Needs, n_items: int, has_model: bool) -> str:
    """One sentence or two: what was looked for, under which limits, and what feedback did."""
    what = f"'{needs.query}'" if needs.query else "what you might like"
    limits = []
    if needs.category:
        limits.append("in " + " or ".join(needs.category))
    if needs.min_price is not None and needs.max_price is not None:
        limits.append(f"priced {_money(needs.min_price)} to {_money(needs.max_price)}")
    elif needs.max_price is not None:
        limits.append(f"priced up to {_money(needs.max_price)}")
    elif needs.min_price is not None:
        limits.append(f"priced from {_money(needs.min_price)}")
    if needs.exclude:
        limits.append("without " + ", ".join(needs.exclude))
    scope = (" " + ", ".join(limits)) if limits else ""
    if n_items == 0:
        return f"Nothing available fits {what}{scope}. A wider price range or fewer exclusions may help."
    text = f"Here {'is' if n_items == 1 else 'are'} {n_items} item{'s' if n_items != 1 else ''} for {what}{scope}."
    if needs.liked:
        text += " Items like the ones you liked are moved up."
    if needs.disliked:
        text += " What you disliked is left out."
    if not has_model:
        text += " No model is trained yet, so these are the most popular that fit."
    return text
