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

from app.context import ContextModel
from app.model import mapped
from app.model.factors import Factors
from app.model.mapped import MappedNpz
from app.segments import Segments
from app.store.crud import bump_serving_epoch
from app.store.models import ModelActivation, ModelVersion, utcnow

RATER = "rater_"  # name prefix of the rating predictor's arrays in a version's .npz


@dataclass
class Trained:
    """A version: ``factors`` serve every route (the ranking fit, unless only ``rating`` was asked for);
    ``rater`` predicts ratings (the Bayesian rating fit; the same object as ``factors`` for a rating-only
    version; None when the store held no ratings or only ``ranking`` was asked for). Both index users and
    items alike (``user_ids``, ``item_ids``)."""

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
    reference_log_norm: np.ndarray | None = None  # their softmax normalisers over the catalog (rows aligned)
    rater: Factors | None = None
    context: ContextModel | None = None  # how time, device and location move items (app.context)
    segments: Segments | None = None  # the users' segments (app.segments)
    few_events: str = "neighbours"  # what ranks users with few events first (app.trainer.few_events chose it)

    def predicted_rating(self, user_pos: int | None, item_positions: np.ndarray) -> np.ndarray | None:
        """The rater's 1-5 prediction for one user (training position, None: unknown, the mean user) and items
        by training position; None when the version has no rater."""
        return None if self.rater is None else self.rater.predicted_rating(user_pos, item_positions)


def save(path: Path, trained: Trained) -> None:
    """Atomic: a reader sees the whole file or none; a crash mid-write leaves only a temp file behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    f, rater = trained.factors, trained.rater
    arrays = f.arrays()
    meta = {"objective": f.objective, "mu": f.mu, "encoder_model": trained.encoder_model, "history": f.history,
            "trained_until": trained.trained_until, "positive_score": trained.positive_score, "terms": f.terms,
            "few_events": trained.few_events}
    if rater is f:
        meta["rater"] = "factors"
    elif rater is not None:
        meta["rater"] = {"objective": rater.objective, "mu": rater.mu, "history": rater.history}
        arrays |= {RATER + name: a for name, a in rater.arrays().items()}
    if trained.seen_indptr is not None:
        arrays |= {"seen_indptr": trained.seen_indptr, "seen_items": trained.seen_items}
    for name in ("reference_users", "reference_profiles", "reference_log_norm"):
        if getattr(trained, name) is not None:
            arrays[name] = getattr(trained, name)
    for part in (trained.context, trained.segments):
        if part is not None:
            arrays |= part.arrays()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            mapped.save(out, {"user_ids": np.array(trained.user_ids, dtype=str),
                              "item_ids": np.array(trained.item_ids, dtype=str), "meta": np.array(json.dumps(meta)),
                              **arrays})
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
    """Large arrays are read-only maps of the file (``app.model.mapped``): shared by every API process."""
    with MappedNpz(path) as z:
        meta = json.loads(str(z["meta"]))
        arrays = {name: (z[name] if name in z.files else None) for name in Factors.ARRAYS}
        factors = Factors(objective=meta["objective"], mu=meta["mu"], history=meta["history"],
                          terms=meta.get("terms", {}), **arrays)  # older versions: no appended terms
        rater = meta.get("rater", "factors" if factors.objective == "rating" else None)  # older: none stored
        if rater == "factors":
            rater = factors
        elif rater is not None:
            arrays = {name: (z[RATER + name] if RATER + name in z.files else None) for name in Factors.ARRAYS}
            rater = Factors(objective=rater["objective"], mu=rater["mu"], history=rater["history"], **arrays)
        seen = (z["seen_indptr"], z["seen_items"]) if "seen_indptr" in z.files else (None, None)
        references = [z[name] if name in z.files else None  # older versions: no stored normalisers
                      for name in ("reference_users", "reference_profiles", "reference_log_norm")]
        return Trained(factors, z["user_ids"].tolist(), z["item_ids"].tolist(), meta["encoder_model"],
                       meta.get("trained_until"), meta.get("positive_score", 0.0), *seen, *references, rater,
                       ContextModel.from_arrays(z), Segments.from_arrays(z),
                       meta.get("few_events", "neighbours"))  # older versions: the neighbours


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
    session.add(ModelActivation(version=version, at=utcnow()))  # the online metrics' curves mark it
    bump_serving_epoch(session)  # every API process answers from this version from its next request on
    return True


def active(session: Session) -> ModelVersion | None:
    return session.scalars(select(ModelVersion).where(ModelVersion.active.is_(True))).first()


def get(session: Session, version: str) -> ModelVersion | None:
    return session.get(ModelVersion, version)


def list_versions(session: Session) -> list[ModelVersion]:
    return list(session.scalars(select(ModelVersion).order_by(ModelVersion.created_at.desc())))
