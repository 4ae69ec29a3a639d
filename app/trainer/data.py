"""Read the store into training arrays: one streaming query over the interactions, one over the vectors."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.context import EventContexts
from app.encoder.texts import item_text as catalog_text
from app.store.models import Embedding, Interaction, Item
from app.trainer.types import TrainData

MAX_REVIEW_CHARS = 200_000_000  # the review texts a job keeps in memory for TF-IDF; later ones are left out


@dataclass
class StoreData:
    data: TrainData
    user_ids: list[str]
    item_ids: list[str]
    contexts: EventContexts | None = None  # the events' time, device and location (app.context)
    item_categories: list[str | None] | None = None  # the catalog category of each item index


def load(session: Session, model_name: str, event_weights: dict[str, float], chunk: int = 50_000,
         item_reads_reviews: bool = True, user_reads_reviews: bool = True) -> StoreData:
    """Interactions in time order as index arrays; live items with a text vector join even without events
    (they enter factor space through the text map). ``item_reads_reviews``, ``user_reads_reviews``: whether
    the items' and users' text vectors read reviews (settings), which marks those that have any."""
    user_index: dict[str, int] = {}
    item_index: dict[str, int] = {}
    users, items, ratings, weights, seconds, devices, locations = [], [], [], [], [], [], []
    reviews: dict[int, str] = {}
    review_chars = 0
    stmt = (select(Interaction.user_id, Interaction.item_id, Interaction.type, Interaction.value, Interaction.ts,
                   Interaction.device, Interaction.location, Interaction.text)
            .order_by(Interaction.ts, Interaction.id).execution_options(yield_per=chunk))
    for user_id, item_id, kind, value, ts, device, location, text in session.execute(stmt):
        if text and review_chars < MAX_REVIEW_CHARS:  # for the lexical term's documents (app.trainer.lexical)
            reviews[len(users)] = text
            review_chars += len(text)
        users.append(user_index.setdefault(user_id, len(user_index)))
        items.append(item_index.setdefault(item_id, len(item_index)))
        ratings.append(value if kind == "rating" and value is not None else np.nan)
        weights.append(event_weights.get(kind, 1.0))
        seconds.append(int(ts.timestamp()))
        devices.append(device)
        locations.append(location)

    live_with_text = select(Embedding.owner_id).join(Item, Item.item_id == Embedding.owner_id).where(
        Embedding.owner_kind == "item", Embedding.model == model_name, Item.deleted_at.is_(None))
    for (item_id,) in session.execute(live_with_text.order_by(Embedding.owner_id)):
        item_index.setdefault(item_id, len(item_index))

    item_text, item_has = _vectors(session, "item", model_name, item_index)
    words = [""] * len(item_index)  # the catalog text, for the content term (app.trainer.content)
    categories: list[str | None] = [None] * len(item_index)
    catalog = select(Item.item_id, Item.title, Item.category, Item.description, Item.attributes).where(
        Item.deleted_at.is_(None), Item.title.is_not(None)).execution_options(yield_per=10_000)
    for item_id, title, category, description, attributes in session.execute(catalog):
        n = item_index.get(item_id)
        if n is not None:
            words[n] = catalog_text(title, category, description, attributes)
            categories[n] = category
    user_text, user_has = _vectors(session, "user", model_name, user_index)
    reviewed = np.zeros(len(item_index), bool)
    if item_reads_reviews:
        for (item_id,) in session.execute(select(Interaction.item_id).where(Interaction.text.is_not(None)).distinct()):
            if item_id in item_index:
                reviewed[item_index[item_id]] = True
    user_reviewed = np.zeros(len(user_index), bool)
    if user_reads_reviews:
        for (user_id,) in session.execute(select(Interaction.user_id).where(Interaction.text.is_not(None)).distinct()):
            if user_id in user_index:
                user_reviewed[user_index[user_id]] = True
    data = TrainData(
        n_users=len(user_index), n_items=len(item_index),
        users=np.asarray(users, np.int64), items=np.asarray(items, np.int64),
        ratings=np.asarray(ratings, np.float32), weights=np.asarray(weights, np.float32),
        item_text=item_text, item_has_text=item_has, user_text=user_text, user_has_text=user_has,
        item_words=words, item_reviewed=reviewed, user_reviewed=user_reviewed, review_texts=reviews or None,
    )
    contexts = EventContexts(data.items, np.asarray(seconds, np.int64), np.array(devices, dtype=object),
                             np.array(locations, dtype=object))
    return StoreData(data, list(user_index), list(item_index), contexts, categories)


def _vectors(session: Session, kind: str, model: str, index: dict[str, int]):
    rows = session.execute(select(Embedding.owner_id, Embedding.vector).where(
        Embedding.owner_kind == kind, Embedding.model == model).execution_options(yield_per=10_000))
    matrix, has = None, np.zeros(len(index), bool)
    for owner_id, blob in rows:
        n = index.get(owner_id)
        if n is None:
            continue
        vec = np.frombuffer(blob, dtype="<f4")
        if matrix is None:
            matrix = np.zeros((len(index), len(vec)), np.float32)
        matrix[n] = vec
        has[n] = True
    return matrix, (has if matrix is not None else None)
