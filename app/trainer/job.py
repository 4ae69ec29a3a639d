"""The training job: embed what is stale, read the store, build a version (``artifact``: under ``auto`` the
ranking factors to serve and, when there are ratings, a rating predictor beside them), publish it (save, index,
record, activate last)."""

from __future__ import annotations

import time
from dataclasses import fields
from typing import Any

import numpy as np
from sqlalchemy import select

from app.encoder.model import pick_device
from app.encoder.pipeline import run_embedding_job
from app.model import versions
from app.model.serving import build_indexes
from app.store.models import Job, utcnow
from app.store.queue import JobLost
from app.trainer import artifact
from app.trainer import data as store_data
from app.trainer.types import TrainParams

PARAM_NAMES = {f.name for f in fields(TrainParams)}


def train_params(params: dict[str, Any], device: str) -> TrainParams:
    values = {k: v for k, v in params.items() if k in PARAM_NAMES and v is not None}
    values.setdefault("device", pick_device(device).type)
    return TrainParams(**values)


def _catalog_reader(ctx, data):
    """The new-items carve's reader: items (by index) encoded from their catalog text alone, as a new item
    without reviews is (None where the items' vectors read no reviews: theirs are catalog text already)."""
    if data.item_reviewed is None or not data.item_reviewed.any() or data.item_words is None:
        return None

    def read(items):
        return ctx.encoder().encode([data.item_words[i] for i in items]).astype(np.float32)
    return read


def run_training_job(ctx, params: dict[str, Any]) -> dict[str, Any]:
    """Embed what is stale, read the store, build the version (``artifact.build``), publish it."""
    settings = ctx.settings
    started = time.perf_counter()
    embedded = run_embedding_job(ctx, {"target": "all", "only_stale": True})
    p = train_params(params, settings.device)
    trained_until = utcnow()
    with ctx.sessions() as session:
        loaded = store_data.load(session, embedded["model"], p.event_weights,
                                 item_reads_reviews=settings.item_review_texts > 0,
                                 user_reads_reviews=settings.user_review_texts > 0)
    built = artifact.build(loaded, p, settings, embedded["model"], trained_until.isoformat(), ctx.progress,
                           catalog_vectors=_catalog_reader(ctx, loaded.data))
    built.metrics["train_seconds"] = round(time.perf_counter() - started, 3)
    version = publish(ctx, built)
    return {"model_version": version, "metrics": built.metrics, "embedding": embedded, "epochs": built.history}


def publish(ctx, built: artifact.Built) -> str:
    """Save the version (atomically), build its FAISS indexes beside it, record it and activate it: the very
    last step, and only while the job is still this worker's (one that lost its lease must not switch the
    model). Returns the version's name."""
    version = f"{utcnow():%Y%m%d-%H%M%S}-{ctx.job.job_id[:8]}"
    path = versions.artifact_path(ctx.settings.data_dir, version)
    versions.save(path, built.trained)
    build_indexes(path, built.trained, ctx.settings.index_exact_max)  # beside the version, built once
    with ctx.sessions() as session, session.begin():
        mine = session.scalar(select(Job.job_id).where(
            Job.job_id == ctx.job.job_id, Job.worker_id == ctx.worker.worker_id, Job.status == "running"))
        if mine is None:
            raise JobLost(ctx.job.job_id)
        versions.record(session, version, ctx.job.job_id, path, built.params, built.metrics)
        versions.activate(session, version)
    return version
