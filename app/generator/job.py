"""The reviews job (``POST /v1/reviews/jobs``): generated reviews for the items that have fewer than
``SEMREC_REVIEWS_MIN_REAL`` shoppers' review texts, up to ``max_per_item`` each, stored apart from the
interactions with the model and prompt version that wrote them. A second job tops up only what is missing, so
it never goes beyond ``max_per_item``; ``only_missing=false`` writes an item's reviews afresh (replacing the
old ones, e.g. after a new model or prompt)."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import delete, func, select

from app.generator import reviews, shared
from app.store.models import GeneratedReview, Interaction, Item, utcnow


def _wanted(session, settings, params: dict[str, Any]) -> list[tuple[reviews.ItemFields, int]]:
    """(item, how many reviews to write) for every item the job covers that is short of reviews."""
    per_item = int(params.get("max_per_item", 2))
    items = select(Item).where(Item.deleted_at.is_(None), (Item.title.is_not(None)) | (Item.description.is_not(None)))
    if params.get("item_ids"):
        items = items.where(Item.item_id.in_(params["item_ids"]))
    real = dict(session.execute(select(Interaction.item_id, func.count()).where(Interaction.text.is_not(None))
                                .group_by(Interaction.item_id)).all())
    have = dict(session.execute(select(GeneratedReview.item_id, func.count()).group_by(GeneratedReview.item_id)).all())
    out = []
    for it in session.scalars(items.order_by(Item.item_id)):
        if real.get(it.item_id, 0) >= settings.reviews_min_real:
            continue
        n = per_item - have.get(it.item_id, 0) if params.get("only_missing", True) else per_item
        if n > 0:
            out.append((reviews.ItemFields(it.item_id, it.title, it.category, it.description, it.attributes or {}), n))
    return out


def run_reviews_job(ctx, params: dict[str, Any]) -> dict[str, Any]:
    """Job handler. params: only_missing (default true), max_per_item (1-10, default 2), item_ids (optional)."""
    settings = ctx.settings
    with ctx.sessions() as session:
        todo = _wanted(session, settings, params)
    ctx.progress(0, len(todo))
    if not todo:
        return {"items": 0, "reviews": 0}
    generator = shared(settings.generator_model, settings.device)
    written, done, started = 0, 0, time.perf_counter()
    step = max(1, settings.generator_batch_size)
    for start in range(0, len(todo), step):  # a batch of items at a time: stored, then reported
        chunk = todo[start: start + step]
        texts = [[] for _ in chunk]
        for n in range(max(k for _, k in chunk)):  # round n writes the n-th review of those that need one
            ask = [m for m, (_, k) in enumerate(chunk) if k > n]
            for m, got in zip(ask, reviews.write(generator, [chunk[m][0] for m in ask], 1, seed=start * 10 + n,
                                                 batch_size=step), strict=True):
                texts[m] += got
        with ctx.sessions() as session, session.begin():
            if not params.get("only_missing", True):
                session.execute(delete(GeneratedReview).where(
                    GeneratedReview.item_id.in_([item.item_id for item, _ in chunk])))
            now = utcnow()
            for (item, _), got in zip(chunk, texts, strict=True):
                session.add_all(GeneratedReview(item_id=item.item_id, text=t, model=generator.name,
                                                prompt_version=reviews.PROMPT_VERSION, created_at=now) for t in got)
                written += len(got)
        done += len(chunk)
        ctx.progress(done, len(todo), {"reviews": written})
    seconds = time.perf_counter() - started
    return {"items": len(todo), "reviews": written, "model": generator.name,
            "prompt_version": reviews.PROMPT_VERSION, "reviews_per_s": round(written / max(seconds, 1e-9), 3)}
