"""Reviews written by the generator for items with few real ones: the prompt, from the item's own catalog
fields only (title, category, attributes, description; never shoppers' reviews or held-out data), versioned so
every stored review says which prompt wrote it, and the batched writing.

    texts = write(generator, [ItemFields(...), ...], per_item=2, seed=0)   # [[review, review], ...]
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

PROMPT_VERSION = "review-v1"
SYSTEM = "You are a shopper writing an honest, specific product review."
MAX_DESCRIPTION = 600  # characters of the description the prompt quotes: the rest is seldom about the product
MIN_WORDS = 4  # an answer shorter than this is no review
# A small model sometimes declines ("I'm sorry, I'm unable to provide a review"): that is no review either.
_REFUSAL = re.compile(r"\b(?:i'?m sorry|i am sorry|unable to|as an ai|cannot provide|can't provide)\b", re.IGNORECASE)


@dataclass(frozen=True)
class ItemFields:
    item_id: str
    title: str | None
    category: str | None = None
    description: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)


def prompt(item: ItemFields) -> str:
    lines = [f"Product: {item.title or 'an unnamed product'}"]
    if item.category:
        lines.append(f"Category: {item.category}")
    details = [f"{k.replace('_', ' ')}: {v}" for k, v in (item.attributes or {}).items()
               if isinstance(v, str | int | float) and not isinstance(v, bool) and len(str(v)) <= 80]
    if details:
        lines.append("Details: " + "; ".join(details[:8]))
    if item.description:
        lines.append(f"Description: {item.description[:MAX_DESCRIPTION]}")
    return "\n".join(lines) + "\n\nWrite a two-sentence review of this product as a customer who used it."


def clean(text: str) -> str | None:
    """The answer as a review: quotes and a "Review:" label taken off, cut after its last full sentence; None
    when too little is left or the model declined."""
    text = re.sub(r"^\s*(?:review\s*:\s*)", "", text.strip(), flags=re.IGNORECASE).strip().strip('"').strip()
    ends = [m.end() for m in re.finditer(r"[.!?](?=\s|$)", text)]
    if ends and ends[-1] < len(text):
        text = text[: ends[-1]]
    return text if len(text.split()) >= MIN_WORDS and not _REFUSAL.search(text) else None


def write(generator, items: list[ItemFields], per_item: int, seed: int = 0, batch_size: int = 8,
          max_new_tokens: int = 80, on_batch=None) -> list[list[str]]:
    """``per_item`` reviews for each item (fewer where the model's answer was no review), in batches of
    ``batch_size`` prompts; ``on_batch(items_done)`` after each batch. Sampled, so an item's reviews differ
    from each other; each batch is seeded from ``seed``, so the same items in the same order give the same
    words."""
    asks = [(n, k) for n in range(len(items)) for k in range(per_item)]
    out: list[list[str]] = [[] for _ in items]
    for start in range(0, len(asks), batch_size):
        chunk = asks[start: start + batch_size]
        answers = generator.chat_many([prompt(items[n]) for n, _ in chunk], max_new_tokens=max_new_tokens,
                                      system=SYSTEM, seed=seed + start)
        for (n, _), answer in zip(chunk, answers, strict=True):
            if (review := clean(answer)) is not None:
                out[n].append(review)
        if on_batch is not None:
            on_batch(len({n for n, _ in asks[: start + len(chunk)]}))
    return out
