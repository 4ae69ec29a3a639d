"""The items' text vectors over catalog positions, for the words' own channel: a conversation's query is
compared with each item's text directly (cosine), not only through the text map into factor space, which
keeps tastes and co-occurrence but blurs words ("trail running shoes" and "winter boots" are both shoes there).

Loaded once per served model version, on the first conversation (one read of the item vectors of the
version's encoder); items stored since come from the catalog's own text vectors. n_items x dim float32:
1.5 GB at a million items with the packaged encoder (384 dimensions).
"""

from __future__ import annotations

import threading

import numpy as np
from sqlalchemy import Engine, select

from app.recommender import ranking
from app.recommender.state import State
from app.store.models import Embedding

_lock = threading.Lock()
_held: dict = {"version": None, "base": None}


def scores(engine: Engine, state: State, positions: np.ndarray, text: np.ndarray) -> np.ndarray | None:
    """Cosine of ``text`` (a unit vector) with the text of each catalog position (0 where an item has none);
    None without a model."""
    model = state.model
    if model is None:
        return None
    base = _base(engine, state)
    out = np.zeros(len(positions))
    in_model = positions < len(base)
    out[in_model] = ranking.products(base, positions[in_model], text)
    for n in np.flatnonzero(~in_model):
        v = _fresh(state, int(positions[n]), len(text))
        if v is not None:
            out[n] = float(v @ text)
    return out


def rows(engine: Engine, state: State, positions: list[int]) -> list[np.ndarray]:
    """The unit text vectors of these catalog positions (liked or disliked items), those without one left out."""
    base = _base(engine, state)
    found = [base[p] if p < len(base) else _fresh(state, p, base.shape[1]) for p in positions]
    return [v for v in found if v is not None and float(np.linalg.norm(v)) > 0.5]  # the model's rows: unit or 0


def _fresh(state: State, position: int, dim: int) -> np.ndarray | None:
    """The unit text vector of an item stored since the version (None: none yet, or another encoder's)."""
    v = state.catalog.text_vectors.get(position)
    if v is None or len(v) != dim:
        return None
    norm = float(np.linalg.norm(v))
    return v / norm if norm > 1e-8 else None


def _base(engine: Engine, state: State) -> np.ndarray:
    """The model's items' unit text vectors (rows in model order), read once per version."""
    model = state.model
    with _lock:
        if _held["version"] != model.version:
            _held.update(version=model.version, base=_read(engine, state))
        return _held["base"]


def _read(engine: Engine, state: State) -> np.ndarray:
    positions = state.catalog.positions
    stmt = select(Embedding.owner_id, Embedding.vector).where(
        Embedding.owner_kind == "item", Embedding.model == state.model.trained.encoder_model)
    rows = {}
    with engine.connect() as conn:
        for owner_id, blob in conn.execute(stmt):
            pos = positions.get(owner_id)
            if pos is not None and pos < state.model.n_items:
                rows[pos] = np.frombuffer(blob, dtype="<f4")
    dim = len(next(iter(rows.values()))) if rows else 1
    out = np.zeros((state.model.n_items, dim), np.float32)
    for pos, v in rows.items():
        if len(v) == dim:
            out[pos] = v
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-8)
