"""What the encoder reads about an item or a user, and the hash that says whether a vector is current."""

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

MAX_ATTRIBUTE_TEXT = 200  # long attribute values are noise to the encoder
MAX_REVIEW_TEXT = 500  # of each review an item is read by: the encoder reads 256 tokens of the whole


def item_text(title: str | None, category: str | None, description: str | None,
              attributes: Mapping[str, Any] | None, reviews: Iterable[str] = (),
              synthetic_reviews: Iterable[str] = ()) -> str:
    """Title, category, description, then readable attributes ("brand: Stride"), then shoppers' reviews (the
    latest few, newest first), then synthetic reviews (generated text, marked as such so it never passes for a
    customer's words)."""
    parts = [title or "", f"Category: {category}" if category else "", description or ""]
    for key, value in (attributes or {}).items():
        if isinstance(value, bool):
            if value:
                parts.append(key.replace("_", " "))
        elif isinstance(value, str | int | float) and len(str(value)) <= MAX_ATTRIBUTE_TEXT:
            parts.append(f"{key.replace('_', ' ')}: {value}")
    parts += [f"Review: {review.strip()[:MAX_REVIEW_TEXT]}" for review in reviews if review and review.strip()]
    parts += [f"Synthetic review: {review}" for review in synthetic_reviews]
    return ". ".join(p.strip() for p in parts if p and p.strip())


def user_text(profile_text: str | None, recent_reviews: Iterable[str] = ()) -> str:
    """The profile in the user's words, then their most recent review texts."""
    parts = [profile_text or "", *recent_reviews]
    return ". ".join(p.strip() for p in parts if p and p.strip())


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
