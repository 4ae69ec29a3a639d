"""What the evaluation scripts share about the protocols (shared PROTOCOLS.md): the splits and cut-offs
(``app.evaluation.protocols``'s), the texts every method of one split reads, and P2's training events as a data
set of their own (the carve settings are chosen on, never the test users)."""

from __future__ import annotations

import numpy as np

from app.core.config import Settings
from app.encoder.model import Encoder
from app.evaluation import datasets
from app.evaluation.protocols import KS, SPLITS, Indexed, p2_temporal

__all__ = ["KS", "SPLITS", "carve", "split_inputs", "text_vectors"]


def text_vectors(ix: Indexed, encoder: Encoder) -> dict:
    """The data set's item texts and (where any) user texts through the encoder: what every split starts from."""
    vectors = {"item_vectors": encoder.encode(ix.item_texts)}
    if any(ix.user_texts):
        vectors["user_vectors"] = encoder.encode(ix.user_texts)
    return vectors


def split_inputs(ix: Indexed, train: np.ndarray, encoder: Encoder, vectors: dict) -> dict:
    """What every method of one split reads: the texts (with the reviews of the split's training events, where
    the data has reviews, as the service composes them) and their encoder vectors."""
    if ix.ds.reviews is None:
        return vectors
    settings = Settings()
    item_texts, user_texts = ix.texts(train, settings.item_review_texts, settings.user_review_texts)
    inputs = {"texts": (item_texts, user_texts), "item_vectors": encoder.encode(item_texts)}
    if any(user_texts):
        inputs["user_vectors"] = encoder.encode(user_texts)
    return inputs


def carve(ds: datasets.Dataset) -> tuple[datasets.Dataset, Indexed]:
    """P2's training events as a data set of their own: P5 on it splits them again by the P2 rule."""
    train = p2_temporal(Indexed(ds)).train
    inner = ds.subset(train)
    inner.user_text = ds.user_text
    return inner, Indexed(inner)
