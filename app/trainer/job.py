"""The training job: embed what is stale, read the store, fit, write the version, activate it last."""

from __future__ import annotations

import time
from dataclasses import asdict, fields
from typing import Any

import numpy as np
from sqlalchemy import select

from app.encoder.model import pick_device
from app.encoder.pipeline import run_embedding_job
from app.recommender import neighbours
from app.recommender.serving import build_indexes
from app.store.models import Job, utcnow
from app.trainer import data as store_data
from app.trainer import versions
from app.trainer.model import TrainParams, choose_objective, fit
from app.worker.queue import JobLost

PARAM_NAMES = {f.name for f in fields(TrainParams)}


def train_params(params: dict[str, Any], device: str) -> TrainParams:
    values = {k: v for k, v in params.items() if k in PARAM_NAMES and v is not None}
    values.setdefault("device", pick_device(device).type)
    return TrainParams(**values)


def run_training_job(ctx, params: dict[str, Any]) -> dict[str, Any]:
    settings = ctx.settings
    started = time.perf_counter()
    embedded = run_embedding_job(ctx, {"target": "all", "only_stale": True})
    p = train_params(params, settings.device)
    trained_until = utcnow()
    with ctx.sessions() as session:
        loaded = store_data.load(session, embedded["model"], p.event_weights)
    data = loaded.data
    if data.n_users == 0 or len(data.users) == 0:
        raise ValueError("no interactions to train on")
    if p.objective == "rating" and not (data.ratings == data.ratings).any():
        raise ValueError("objective 'rating' asked for, but the store holds no ratings")

    p = p.resolved(choose_objective(data, p.objective), data.n_users + data.n_items)
    history: list[dict] = []
    ctx.progress(0, p.epochs)

    def on_epoch(record: dict) -> None:
        history.append({k: (round(v, 5) if isinstance(v, float) else v) for k, v in record.items()})
        ctx.progress(record["epoch"], p.epochs, result={"phase": "training", "epochs": history})

    factors = fit(data, p, callback=on_epoch)
    version = f"{utcnow():%Y%m%d-%H%M%S}-{ctx.job.job_id[:8]}"
    path = versions.artifact_path(settings.data_dir, version)
    indptr, seen_items, references, profiles = neighbours.choose(data)
    trained = versions.Trained(factors, loaded.user_ids, loaded.item_ids, embedded["model"],
                               trained_until.isoformat(), float(np.mean(factors.predict(data.users, data.items))),
                               indptr, seen_items, references, profiles)
    versions.save(path, trained)
    build_indexes(path, trained, settings.index_exact_max)  # FAISS indexes beside the version, built once

    val_key = "val_rmse" if factors.objective == "rating" else "val_recall@20"
    best = (min if factors.objective == "rating" else max)(h[val_key] for h in history)
    metrics = {val_key: round(best, 5), "epochs": len(history), "users": data.n_users, "items": data.n_items,
               "events": int(len(data.users)), "train_seconds": round(time.perf_counter() - started, 3)}
    stored_params = asdict(p)
    with ctx.sessions() as session, session.begin():
        # Activate only while the job is still ours: a job that lost its lease must not switch the model.
        mine = session.scalar(select(Job.job_id).where(
            Job.job_id == ctx.job.job_id, Job.worker_id == ctx.worker.worker_id, Job.status == "running"))
        if mine is None:
            raise JobLost(ctx.job.job_id)
        versions.record(session, version, ctx.job.job_id, path, stored_params, metrics)
        versions.activate(session, version)
    return {"model_version": version, "metrics": metrics, "embedding": embedded, "epochs": history}
