"""The training job: embed what is stale, read the store, fit (under ``auto``: the ranking factors to serve and,
when there are ratings, a rating predictor beside them), write one version, activate it last."""

from __future__ import annotations

import time
from dataclasses import asdict, fields
from typing import Any

import numpy as np
from sqlalchemy import select

from app import segments
from app.encoder.model import pick_device
from app.encoder.pipeline import run_embedding_job
from app.recommender import neighbours
from app.recommender.serving import build_indexes, item_vectors
from app.store.models import Job, utcnow
from app.trainer import contexts, versions
from app.trainer import data as store_data
from app.trainer.fit import fit
from app.trainer.types import TrainParams, objectives
from app.worker.queue import JobLost

PARAM_NAMES = {f.name for f in fields(TrainParams)}


def train_params(params: dict[str, Any], device: str) -> TrainParams:
    values = {k: v for k, v in params.items() if k in PARAM_NAMES and v is not None}
    values.setdefault("device", pick_device(device).type)
    return TrainParams(**values)


def _catalog_reader(ctx, loaded, data):
    """The new-items carve's reader: items (by index) encoded from their catalog text alone, as a new item
    without reviews is (None where the items' vectors read no reviews: theirs are catalog text already)."""
    if data.item_reviewed is None or not data.item_reviewed.any() or data.item_words is None:
        return None

    def read(items):
        return ctx.encoder().encode([data.item_words[i] for i in items]).astype(np.float32)
    return read


def run_training_job(ctx, params: dict[str, Any]) -> dict[str, Any]:
    settings = ctx.settings
    started = time.perf_counter()
    embedded = run_embedding_job(ctx, {"target": "all", "only_stale": True})
    p = train_params(params, settings.device)
    trained_until = utcnow()
    with ctx.sessions() as session:
        loaded = store_data.load(session, embedded["model"], p.event_weights,
                                 item_reads_reviews=settings.item_review_texts > 0,
                                 user_reads_reviews=settings.user_review_texts > 0)
    data = loaded.data
    if data.n_users == 0 or len(data.users) == 0:
        raise ValueError("no interactions to train on")
    if p.objective == "rating" and not (data.ratings == data.ratings).any():
        raise ValueError("objective 'rating' asked for, but the store holds no ratings")

    rows = data.n_users + data.n_items
    plan = [p.resolved(objective, rows) for objective in objectives(data, p.objective)]
    history: list[dict] = []
    fitted: dict[str, object] = {}
    ctx.progress(0, sum(r.epochs for r in plan))
    for n, phase in enumerate(plan):
        done = len(history)  # epochs of the phases before; the total counts what is still planned
        total = done + sum(r.epochs for r in plan[n:])

        def on_epoch(record: dict, phase=phase.objective, done=done, total=total) -> None:
            history.append({"phase": phase, **{k: (round(v, 5) if isinstance(v, float) else v)
                                               for k, v in record.items()}})
            # A validated fit goes on over every event for a few epochs more than planned (its refit).
            ctx.progress(done + record["epoch"], max(total, done + record["epoch"]),
                         result={"phase": phase, "epochs": history})

        fitted[phase.objective] = fit(data, phase, callback=on_epoch,
                                      catalog_vectors=_catalog_reader(ctx, loaded, data),
                                      on_validated=contexts.chooser(loaded, data, settings.context_prior,
                                                                    settings.context_weight))
    # Early stopping ends a fit before its planned epochs: the job is then as done as it will be.
    ctx.progress(len(history), len(history), result={"phase": "writing the version", "epochs": history})
    factors = fitted[plan[0].objective]
    rater = fitted.get("rating")
    version = f"{utcnow():%Y%m%d-%H%M%S}-{ctx.job.job_id[:8]}"
    path = versions.artifact_path(settings.data_dir, version)
    indptr, seen_items, references, profiles = neighbours.choose(data)
    reference_norms = neighbours.normalisers(neighbours.reference_queries(references, factors.factor_user_factors),
                                             item_vectors(factors)[0])  # once here, not in every API process
    positive = factors.predict(data.users, data.items)
    context_model = contexts.fit_served(loaded, data, settings.context_prior, factors.validation.get("context"),
                                        factors.terms)
    user_segments = segments.fit(factors.factor_user_factors, data.user_text, data.user_has_text, data.users,
                                 data.items, loaded.item_ids, loaded.item_categories, data.item_words,
                                 settings.segments, p.seed)
    trained = versions.Trained(factors, loaded.user_ids, loaded.item_ids, embedded["model"],
                               trained_until.isoformat(), float(positive.mean()) if len(positive) else 0.0,
                               indptr, seen_items, references, profiles, reference_norms, rater=rater,
                               context=context_model, segments=user_segments,
                               few_events=factors.validation.get("new_users", {}).get("chosen", "neighbours"))
    versions.save(path, trained)
    build_indexes(path, trained, settings.index_exact_max)  # FAISS indexes beside the version, built once

    metrics: dict[str, Any] = {}
    for key, best in (("val_recall@20", max), ("val_rmse", min)):
        values = [h[key] for h in history if h.get(key) is not None]
        if values:
            metrics[key] = round(best(values), 5)
    metrics |= {"epochs": len(history), "users": data.n_users, "items": data.n_items,
                "events": int(len(data.users)), "ratings": int(data.rated.sum()),
                "train_seconds": round(time.perf_counter() - started, 3)}
    stored_params = {"objective": p.objective, **{r.objective: asdict(r) for r in plan}}
    if user_segments is not None:
        metrics["segments"] = len(user_segments.info)
    if context_model is not None:
        metrics["context_features"] = sorted({f for f, _ in context_model.rows})
    if factors.validation:  # each route family's carve: its candidates, their figures, the one served
        metrics["validation"] = factors.validation
    if factors.peers:  # most-popular and item-kNN on the fit's own validation events: the yardstick
        metrics["peers"] = {"val_recall@20": factors.peers}
    if factors.terms:  # what the terms appended to the served factors hold (item-kNN, content)
        stored_params["terms"] = factors.terms
    with ctx.sessions() as session, session.begin():
        # Activate only while the job is still ours: a job that lost its lease must not switch the model.
        mine = session.scalar(select(Job.job_id).where(
            Job.job_id == ctx.job.job_id, Job.worker_id == ctx.worker.worker_id, Job.status == "running"))
        if mine is None:
            raise JobLost(ctx.job.job_id)
        versions.record(session, version, ctx.job.job_id, path, stored_params, metrics)
        versions.activate(session, version)
    return {"model_version": version, "metrics": metrics, "embedding": embedded, "epochs": history}
