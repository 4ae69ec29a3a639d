"""The trained factors: what a version serves every route from (the index, the recommender) and the maps that
place users and items known only by text. Written by the trainer (``app.trainer.fit``), read by everyone."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# The ranking objective's weight per event type: what a fold-in at serving weighs new events by, as training did.
DEFAULT_EVENT_WEIGHTS = {"view": 1.0, "click": 2.0, "cart": 4.0, "purchase": 8.0, "rating": 4.0}


@dataclass
class Factors:
    """A trained model as plain arrays: what the index and the recommender need, and the maps for cold start."""

    objective: str
    mu: float
    user_factors: np.ndarray  # (n_users, k)
    user_bias: np.ndarray
    item_factors: np.ndarray  # (n_items, k)
    item_bias: np.ndarray
    item_map: np.ndarray | None  # (k + 1, d): text -> [q, b]
    item_text_mean: np.ndarray | None
    user_map: np.ndarray | None
    user_text_mean: np.ndarray | None
    history: list[dict] = field(default_factory=list)
    terms: dict = field(default_factory=dict)  # the terms appended to the factors: {name: {rank, weight, ...}}
    peers: dict = field(default_factory=dict)  # simple rankers' recall on the same validation events (peers.py)
    validation: dict = field(default_factory=dict)  # each route family's carve: candidates and choice (selection)
    item_map_offset: np.ndarray | None = None  # (k + 1,): what the map adds to (the Bayesian model's prior mean)
    user_map_offset: np.ndarray | None = None

    ARRAYS = ("user_factors", "user_bias", "item_factors", "item_bias", "item_map", "item_text_mean", "user_map",
              "user_text_mean", "item_map_offset", "user_map_offset")

    @property
    def appended_width(self) -> int:
        """How many columns the appended terms add to the factors."""
        return sum(t.get("rank", 0) for t in self.terms.values() if t.get("weight"))

    @property
    def factor_user_factors(self) -> np.ndarray:
        """The user factors with the appended terms' columns zeroed: the factors' own logits, which the
        few-event ranking's weights were chosen on."""
        width = self.appended_width
        if not width:
            return self.user_factors
        out = self.user_factors.copy()
        out[:, -width:] = 0.0
        return out

    def arrays(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in self.ARRAYS if getattr(self, name) is not None}

    def non_finite(self) -> list[str]:
        """Names of the arrays (and ``mu``) holding a NaN or an infinity."""
        bad = [name for name, a in self.arrays().items() if not np.isfinite(a).all()]
        return bad if np.isfinite(self.mu) else ["mu", *bad]

    def item_from_text(self, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(factors, biases) for items known only by their text vectors."""
        if self.item_map is None:
            return np.zeros((len(vectors), self.item_factors.shape[1]), np.float32), np.zeros(len(vectors), np.float32)
        out = (vectors - self.item_text_mean) @ self.item_map.T
        if self.item_map_offset is not None:
            out = out + self.item_map_offset
        return out[:, :-1].astype(np.float32), out[:, -1].astype(np.float32)

    def user_from_text(self, vectors: np.ndarray) -> np.ndarray:
        if self.user_map is None:
            return np.zeros((len(vectors), self.user_factors.shape[1]), np.float32)
        out = (vectors - self.user_text_mean) @ self.user_map.T
        if self.user_map_offset is not None:
            out = out + self.user_map_offset
        return out[:, :-1].astype(np.float32)

    def predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return (self.mu + self.user_bias[users] + self.item_bias[items]
                + np.einsum("nk,nk->n", self.user_factors[users], self.item_factors[items]))

    def predicted_rating(self, user_pos: int | None, item_positions: np.ndarray) -> np.ndarray:
        """Ratings on the 1-5 scale of one user (a training position; None: a user the model never saw, taken
        as the mean user with bias 0) for items by training position. Meaningful for a rating model only."""
        items = np.asarray(item_positions, np.int64)
        if user_pos is None:
            p = self.user_factors.mean(0) if len(self.user_factors) else np.zeros(self.item_factors.shape[1])
            bu = 0.0
        else:
            p, bu = self.user_factors[user_pos], self.user_bias[user_pos]
        out = self.mu + bu + self.item_bias[items] + self.item_factors[items] @ p
        return np.clip(np.nan_to_num(out, nan=self.mu), 1.0, 5.0).astype(np.float32)
