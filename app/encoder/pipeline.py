"""The embedding job: find users and items whose vector is missing or stale, encode them, store the vectors.

A vector is current when one exists for the configured model and the hash of the text it was made from
equals the hash of the text now: unchanged text is never encoded again; changed text or another model is stale.
"""

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from app.encoder.texts import item_text, text_hash, user_text
from app.store import crud

CHUNK = 256  # texts per store commit: progress is saved and visible at this grain


@dataclass(frozen=True)
class ReviewTexts:
    """How many of their latest review texts an item and a user are read by (settings)."""

    per_item: int
    per_user: int
    generated: bool = False  # items short of min_real real reviews are read with their generated ones too
    min_real: int = 0

    @classmethod
    def of(cls, settings) -> "ReviewTexts":
        return cls(settings.item_review_texts, settings.user_review_texts, settings.item_text_generated,
                   settings.reviews_min_real)


@dataclass(frozen=True)
class OwnerText:
    kind: str  # "item" | "user"
    owner_id: str
    text: str
    hash: str


def owner_texts(session: Session, kind: str, reviews: ReviewTexts,
                ids: list[str] | None = None) -> Iterator[OwnerText]:
    """The text the encoder reads for each item or user that has any: an item's catalog fields and its latest
    shoppers' reviews (with ``reviews.generated``, also its generated reviews while it has fewer than
    ``min_real`` real ones, marked as synthetic), a user's profile and their latest reviews. A new review,
    real or generated, changes the text, so the hash makes the vector stale."""
    if kind == "item":
        latest = crud.latest_reviews(session, "item", reviews.per_item, ids)
        generated = crud.generated_reviews(session, reviews.min_real, ids) if reviews.generated else {}
        for it in crud.item_rows_for_text(session, ids):
            text = item_text(it.title, it.category, it.description, it.attributes, latest.get(it.item_id, ()),
                             generated.get(it.item_id, ()))
            if text:
                yield OwnerText("item", it.item_id, text, text_hash(text))
    else:
        for user_id, profile, recent in crud.user_rows_for_text(session, reviews.per_user, ids):
            text = user_text(profile, recent)
            if text:
                yield OwnerText("user", user_id, text, text_hash(text))


def stale(session: Session, kind: str, model: str, reviews: ReviewTexts,
          ids: list[str] | None = None) -> tuple[list[OwnerText], int]:
    """(texts whose vector is missing or stale, how many texts there are in all)."""
    texts = list(owner_texts(session, kind, reviews, ids))
    stored = crud.embedding_hashes(session, kind, model, ids)
    return [t for t in texts if stored.get(t.owner_id) != t.hash], len(texts)


def is_current(session: Session, kind: str, owner_id: str, model: str, reviews: ReviewTexts) -> bool:
    """Whether the owner has text and a vector made from exactly that text by ``model``."""
    todo, total = stale(session, kind, model, reviews, [owner_id])
    return total == 1 and not todo


def run_embedding_job(ctx, params: dict[str, Any]) -> dict[str, Any]:
    """Job handler. params: target ("items" | "users" | "all"), only_stale (default true)."""
    target = params.get("target", "all")
    kinds = {"items": ["item"], "users": ["user"], "all": ["item", "user"]}[target]
    settings = ctx.settings
    encoder = ctx.encoder()
    todo, considered = [], 0
    with ctx.sessions() as session:
        for kind in kinds:
            if params.get("only_stale", True):
                texts, total = stale(session, kind, encoder.name, ReviewTexts.of(settings))
            else:
                texts = list(owner_texts(session, kind, ReviewTexts.of(settings)))
                total = len(texts)
            todo += texts
            considered += total
    todo.sort(key=lambda t: len(t.text))  # neighbours of similar length: little padding in each batch
    ctx.progress(0, len(todo))
    encode_s = 0.0
    for start in range(0, len(todo), CHUNK):
        chunk = todo[start : start + CHUNK]
        t0 = time.perf_counter()
        vectors = encoder.encode([t.text for t in chunk])
        encode_s += time.perf_counter() - t0
        rows = [
            {"owner_kind": t.kind, "owner_id": t.owner_id, "model": encoder.name, "dim": encoder.dim,
             "vector": np.ascontiguousarray(v, dtype="<f4").tobytes(), "text_hash": t.hash}
            for t, v in zip(chunk, vectors, strict=True)
        ]
        with ctx.sessions() as session, session.begin():
            crud.upsert_embeddings(session, rows)
        ctx.progress(start + len(chunk))
    return {
        "target": target,
        "model": encoder.name,
        "dim": encoder.dim,
        "device": str(encoder.device),
        "encoded": len(todo),
        "already_current": considered - len(todo),
        "encode_seconds": round(encode_s, 3),
        "texts_per_second": round(len(todo) / encode_s, 1) if encode_s else None,
    }
