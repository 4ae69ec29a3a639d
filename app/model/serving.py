"""A model version made ready to serve: factors as score vectors, FAISS indexes, id maps. Loaded once per
version (at start, or when another version is activated) and swapped in whole."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path

import numpy as np

from app.index.faiss_index import ItemIndex
from app.model import neighbours
from app.model.factors import Factors
from app.model.versions import Trained
from app.model.versions import load as load_trained


@dataclass(frozen=True)
class ServingModel:
    version: str
    trained: Trained
    user_positions: dict[str, int]
    item_vectors: np.ndarray  # (n_items, k + 1): [q_i, b_i]
    index: ItemIndex  # inner product = score
    similar: ItemIndex  # cosine over q
    mean_user: np.ndarray  # prior for new visitors
    user_norm: float  # typical ||p_u||, the scale a text-derived vector is brought to
    floor_score: float  # below every item's score: for items the model knows nothing about
    references: neighbours.References | None = None  # established users, for users with few events

    @property
    def trained_until(self) -> datetime | None:
        until = self.trained.trained_until
        return datetime.fromisoformat(until) if until else None

    @property
    def factors(self):
        return self.trained.factors

    @property
    def n_items(self) -> int:
        return len(self.item_vectors)

    @cached_property
    def fold_in_items(self) -> tuple[np.ndarray, np.ndarray]:
        """A fold-in's softmax normaliser (``neighbours.normaliser_items``): the items' factors and biases in
        float64. Drawn once per version, not per fold-in: the draw and the copies were most of a fold-in's time
        at a million items. (A constant scale-up changes no minimiser, so the sample's sum is used as it is.)"""
        items, _ = neighbours.normaliser_items(self.item_vectors)
        return items[:, :-1].astype(np.float64), items[:, -1].astype(np.float64)

    def score_offset(self, user_pos: int | None) -> float:
        """What the index leaves out of the score: μ + b_u for the rating objective, nothing for ranking."""
        f = self.factors
        if f.objective != "rating":
            return 0.0
        return f.mu + (float(f.user_bias[user_pos]) if user_pos is not None else 0.0)


def index_paths(artifact: Path) -> tuple[Path, Path]:
    return artifact.with_suffix(".faiss"), artifact.with_suffix(".similar.faiss")


def item_vectors(f: Factors) -> tuple[np.ndarray, np.ndarray]:
    """([q_i, b_i], q_i / ||q_i||): what the main index and the similar-items index hold."""
    scores = np.hstack([f.item_factors, f.item_bias[:, None]]).astype(np.float32)
    norms = np.linalg.norm(f.item_factors, axis=1, keepdims=True)
    return scores, (f.item_factors / np.maximum(norms, 1e-8)).astype(np.float32)


def build_indexes(artifact: Path, trained: Trained, exact_max: int,
                  ef_construction: int = 200) -> tuple[ItemIndex, ItemIndex]:
    """Build both indexes and save them beside the artifact (the training job does this once)."""
    scores, directions = item_vectors(trained.factors)
    index = ItemIndex.build(scores, exact_max, ef_construction=ef_construction)
    similar = ItemIndex.build(directions, exact_max, ef_construction=ef_construction)
    main_path, similar_path = index_paths(artifact)
    index.save(main_path)
    similar.save(similar_path)
    return index, similar


def load(version: str, artifact: Path, exact_max: int, ef_search: int | None = None) -> ServingModel:
    trained = load_trained(artifact)
    main_path, similar_path = index_paths(artifact)
    if not (main_path.exists() and similar_path.exists()):
        build_indexes(artifact, trained, exact_max)
    # The served vectors are the indexes' own, mapped from their files: one copy for every API process.
    index, similar = ItemIndex.load(main_path, ef_search), ItemIndex.load(similar_path, ef_search)
    if index.vectors.shape != (len(trained.item_ids), trained.factors.item_factors.shape[1] + 1):
        index, similar = build_indexes(artifact, trained, exact_max)  # not this version's: built again
    scores = index.vectors
    f = trained.factors
    return ServingModel(
        version=version, trained=trained, user_positions={u: n for n, u in enumerate(trained.user_ids)},
        item_vectors=scores, index=index, similar=similar,
        mean_user=f.user_factors.mean(0) if len(f.user_factors) else np.zeros(f.item_factors.shape[1], np.float32),
        user_norm=float(np.linalg.norm(f.user_factors, axis=1).mean()) if len(f.user_factors) else 1.0,
        floor_score=(float(f.item_bias.min()) if len(f.item_bias) else 0.0) - 1e3,
        references=_references(trained, scores),
    )


def _references(trained: Trained, scores: np.ndarray) -> neighbours.References | None:
    if trained.reference_users is None or not len(trained.reference_users) or trained.seen_indptr is None:
        return None
    return neighbours.build(trained.reference_users, trained.factors.factor_user_factors, scores, trained.seen_indptr,
                            trained.seen_items, trained.reference_profiles, trained.reference_log_norm)
