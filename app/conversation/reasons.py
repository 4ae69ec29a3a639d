"""Words for the shopper: each item's ``because`` and the answer's ``reply``. Both say only what the data
holds: a liked item the shown one is close to in the model, words of the wish found in its title or category,
its popularity; never a quality or a fact the catalog does not state."""

from __future__ import annotations

import numpy as np

from app.conversation.needs import Needs
from app.recommender.state import State
from app.recommender.words import LIKE_COSINE, closest_to, matched, words_of

CLOSE_COSINE = 0.3  # the wishes' text vector this close to the item's (cosine): "close to '...'"


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
