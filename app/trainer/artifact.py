"""Build a version from training arrays: data and parameters in, the artifact out, no store. The job
(``app.trainer.job``) reads the store before and publishes what this returns after.

    built = build(loaded, params, settings, encoder_model, trained_until, progress)
    built.trained   # the version (app.model.versions.Trained): factors, references, context, segments
    built.metrics, built.params, built.history   # what the version's row records
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from app import segments
from app.core.config import Settings
from app.model import neighbours, versions
from app.model.serving import item_vectors
from app.trainer import contexts, few_events
from app.trainer.data import StoreData
from app.trainer.fit import fit
from app.trainer.types import TrainParams, objectives

Progress = Callable[..., None]  # progress(done, total, result=...): the job's, or nothing


@dataclass
class Built:
    trained: versions.Trained
    metrics: dict[str, Any]
    params: dict[str, Any]  # the parameters each fit resolved to, and the terms appended
    history: list[dict]  # one record per epoch or sweep, every fit


def build(loaded: StoreData, p: TrainParams, settings: Settings, encoder_model: str, trained_until: str,
          progress: Progress, catalog_vectors: Callable[[np.ndarray], np.ndarray] | None = None) -> Built:
    """Fit every objective ``p.objective`` asks for (``auto``: the ranking factors to serve and, with
    ratings, a rating predictor beside them), then what serving needs beside the factors. Raises ValueError
    for a store with nothing to train on."""
    data = loaded.data
    if data.n_users == 0 or len(data.users) == 0:
        raise ValueError("no interactions to train on")
    if p.objective == "rating" and not (data.ratings == data.ratings).any():
        raise ValueError("objective 'rating' asked for, but the store holds no ratings")
    plan = [p.resolved(objective, data.n_users + data.n_items) for objective in objectives(data, p.objective)]
    history: list[dict] = []
    fitted: dict[str, Any] = {}
    progress(0, sum(r.epochs for r in plan))
    for n, phase in enumerate(plan):
        done = len(history)  # epochs of the phases before; the total counts what is still planned
        total = done + sum(r.epochs for r in plan[n:])

        def on_epoch(record: dict, phase=phase.objective, done=done, total=total) -> None:
            history.append({"phase": phase, **{k: (round(v, 5) if isinstance(v, float) else v)
                                               for k, v in record.items()}})
            # A validated fit goes on over every event for a few epochs more than planned (its refit).
            progress(done + record["epoch"], max(total, done + record["epoch"]),
                     result={"phase": phase, "epochs": history})

        fitted[phase.objective] = fit(data, phase, callback=on_epoch, catalog_vectors=catalog_vectors,
                                      on_validated=contexts.chooser(loaded, data, settings.context_prior,
                                                                    settings.context_weight))
    # Early stopping ends a fit before its planned epochs: the job is then as done as it will be.
    progress(len(history), len(history), result={"phase": "writing the version", "epochs": history})
    factors = fitted[plan[0].objective]
    indptr, seen_items, references, profiles = few_events.references(data)
    reference_norms = neighbours.normalisers(neighbours.reference_queries(references, factors.factor_user_factors),
                                             item_vectors(factors)[0])  # once here, not in every API process
    positive = factors.predict(data.users, data.items)
    context_model = contexts.fit_served(loaded, data, settings.context_prior, factors.validation.get("context"),
                                        factors.terms)
    user_segments = segments.fit(factors.factor_user_factors, data.user_text, data.user_has_text, data.users,
                                 data.items, loaded.item_ids, loaded.item_categories, data.item_words,
                                 settings.segments, p.seed)
    trained = versions.Trained(factors, loaded.user_ids, loaded.item_ids, encoder_model, trained_until,
                               float(positive.mean()) if len(positive) else 0.0,
                               indptr, seen_items, references, profiles, reference_norms, rater=fitted.get("rating"),
                               context=context_model, segments=user_segments,
                               few_events=factors.validation.get("new_users", {}).get("chosen", "neighbours"))

    metrics: dict[str, Any] = {}
    for key, best in (("val_recall@20", max), ("val_rmse", min)):
        values = [h[key] for h in history if h.get(key) is not None]
        if values:
            metrics[key] = round(best(values), 5)
    metrics |= {"epochs": len(history), "users": data.n_users, "items": data.n_items,
                "events": int(len(data.users)), "ratings": int(data.rated.sum())}
    params = {"objective": p.objective, **{r.objective: asdict(r) for r in plan}}
    if user_segments is not None:
        metrics["segments"] = len(user_segments.info)
    if context_model is not None:
        metrics["context_features"] = sorted({f for f, _ in context_model.rows})
    if factors.validation:  # each route family's carve: its candidates, their figures, the one served
        metrics["validation"] = factors.validation
    if factors.peers:  # most-popular and item-kNN on the fit's own validation events: the yardstick
        metrics["peers"] = {"val_recall@20": factors.peers}
    if factors.terms:  # what the terms appended to the served factors hold (item-kNN, content)
        params["terms"] = factors.terms
    return Built(trained, metrics, params, history)
