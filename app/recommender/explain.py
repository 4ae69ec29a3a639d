"""``because`` for a user's recommendations (``?explain=true``): the first reason that holds, in words, from what
the data shows: a seen item the recommended one is close to in the model, words of the query or the profile
in its title or category, the context that moved it up, its popularity in the user's segment."""

from __future__ import annotations

import numpy as np

from app.recommender.state import State
from app.recommender.words import LIKE_COSINE, closest_to, matched, words_of

CONTEXT_LIFT = np.log(1.2)  # the context makes the item at least 20% likelier than usual: say so
RECENT_SEEN = 200  # the seen items compared with, at most: the latest events first (``seen``'s order)
_WEEKDAYS = ("Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays", "Sundays")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")


def context_words(feature: str, value: str) -> str:
    if feature == "hour":
        return f"around {int(value):02d}:00 UTC"
    if feature == "weekday":
        return f"on {_WEEKDAYS[int(value)]}"
    if feature == "month":
        return f"in {_MONTHS[int(value) - 1]}"
    return f"on {value}" if feature == "device" else f"in {value}"


def because(state: State, positions: np.ndarray, seen: list[int], user_pos: int | None, strategy: str,
            query: str | None, profile: str | None, values: dict[str, str], weight: float) -> list[str]:
    cat = state.catalog
    model = state.model
    names = {code: name for name, code in cat.categories.items()}
    closest = closest_to(state, positions, seen[:RECENT_SEEN])
    lifts = {}
    if values and model is not None and model.trained.context is not None:
        for f, v in values.items():
            lifts[(f, v)] = model.trained.context.log_lift(cat, positions, {f: v}, weight)
    segments = model.trained.segments if model is not None else None
    segment = segments.of(user_pos) if segments is not None else None
    segment_top = set(segments.info[segment["segment_id"]]["top_items"]) if segment else set()
    out = []
    for n, p in enumerate(positions.tolist()):
        category = names.get(int(cat.category_codes[p]))
        item_words = words_of(cat.titles[p]) | words_of(category)
        near = closest.get(p)
        best_context = max(lifts.items(), key=lambda kv: kv[1][n], default=None)
        if query and (m := matched(query, item_words)):
            out.append(f"matches '{m}'")
        elif near is not None and near[0] >= LIKE_COSINE:
            out.append(f"like {cat.titles[near[1]] or cat.item_ids[near[1]]}, which you had")
        elif best_context is not None and best_context[1][n] >= CONTEXT_LIFT:
            out.append(f"often chosen {context_words(*best_context[0])}")
        elif profile and (m := matched(profile, item_words)):
            out.append(f"matches your profile: '{m}'")
        elif segment and cat.item_ids[p] in segment_top:
            out.append(f"popular with shoppers like you ({segment['label']})")
        elif strategy == "personalized":
            out.append("in line with your past choices")
        elif strategy == "text":  # read through the text map: the query's meaning, or else the profile's
            short = query if query is None or len(query) <= 60 else query[:59] + "…"
            out.append(f"close in meaning to '{short}'" if query else "close to your profile")
        else:
            out.append(f"popular in {category}" if category else "popular now")
    return out
