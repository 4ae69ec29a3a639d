"""Model versions: artifacts on disk (written to a temp name, fsynced, renamed: never half-written) and a row
per version in the store; exactly one version is active."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.store.models import ModelVersion, utcnow
from app.trainer.model import Factors

ARRAYS = ("user_factors", "user_bias", "item_factors", "item_bias", "item_map", "item_text_mean", "user_map",
          "user_text_mean", "item_map_offset", "user_map_offset")


@dataclass
class Trained:
    factors: Factors
    user_ids: list[str]
    item_ids: list[str]
    encoder_model: str
    trained_until: str | None = None  # ISO time of the training read: later events are folded in at serving
    positive_score: float = 0.0  # mean score of the training events: the target when folding in new ones
    seen_indptr: np.ndarray | None = None  # CSR of each user's training items, for exclude-seen
    seen_items: np.ndarray | None = None
    reference_users: np.ndarray | None = None  # established users few-event users are compared with
    reference_profiles: np.ndarray | None = None  # their unit profile text vectors (rows aligned)


def save(path: Path, trained: Trained) -> None:
    """Atomic: a reader sees the whole file or none; a crash mid-write leaves only a temp file behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    f = trained.factors
    arrays = {name: getattr(f, name) for name in ARRAYS if getattr(f, name) is not None}
    meta = {"objective": f.objective, "mu": f.mu, "encoder_model": trained.encoder_model, "history": f.history,
            "trained_until": trained.trained_until, "positive_score": trained.positive_score}
    if trained.seen_indptr is not None:
        arrays |= {"seen_indptr": trained.seen_indptr, "seen_items": trained.seen_items}
    for name in ("reference_users", "reference_profiles"):
        if getattr(trained, name) is not None:
            arrays[name] = getattr(trained, name)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            np.savez(out, user_ids=np.array(trained.user_ids, dtype=str),
                     item_ids=np.array(trained.item_ids, dtype=str), meta=np.array(json.dumps(meta)), **arrays)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load(path: Path) -> Trained:
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        arrays = {name: (z[name] if name in z.files else None) for name in ARRAYS}
        factors = Factors(objective=meta["objective"], mu=meta["mu"], history=meta["history"], **arrays)
        seen = (z["seen_indptr"], z["seen_items"]) if "seen_indptr" in z.files else (None, None)
        references = [z[name] if name in z.files else None for name in ("reference_users", "reference_profiles")]
        return Trained(factors, z["user_ids"].tolist(), z["item_ids"].tolist(), meta["encoder_model"],
                       meta.get("trained_until"), meta.get("positive_score", 0.0), *seen, *references)


def artifact_path(data_dir: Path, version: str) -> Path:
    return data_dir / "models" / f"{version}.npz"


def record(session: Session, version: str, job_id: str | None, path: Path, params: dict, metrics: dict) -> None:
    session.add(ModelVersion(version=version, job_id=job_id, active=False, params=params, metrics=metrics,
                             artifact_path=str(path), created_at=utcnow()))
    session.flush()


def activate(session: Session, version: str) -> bool:
    """Make ``version`` the only active one (in the caller's transaction); False if it is unknown."""
    if session.get(ModelVersion, version) is None:
        return False
    session.execute(update(ModelVersion).where(ModelVersion.active.is_(True)).values(active=False))
    session.execute(update(ModelVersion).where(ModelVersion.version == version).values(active=True))
    return True


def active(session: Session) -> ModelVersion | None:
    return session.scalars(select(ModelVersion).where(ModelVersion.active.is_(True))).first()


def list_versions(session: Session) -> list[ModelVersion]:
    return list(session.scalars(select(ModelVersion).order_by(ModelVersion.created_at.desc())))
