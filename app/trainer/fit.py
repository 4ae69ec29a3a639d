"""The trainer's one entry point. ``fit`` picks the solver (``model``: Adam; ``bayes``: Gibbs sampling for
ratings), so callers never branch on it; it also does what both share: the seeds, the validation share, the
starting point, the events' weights, and refusing a result that is not finite.

    factors = fit(data, TrainParams(objective="ranking"), callback=print)

A training run (the job, the evaluation) makes one fit per entry of ``objectives(data, params.objective)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import torch

from app.trainer import (
    bayes,
    carve,
    content,
    ease,
    few_events,
    lexical,
    model,
    neighbourhood,
    peers,
    popularity,
    selection,
)
from app.trainer.types import Factors, TrainData, TrainingDiverged, TrainParams, choose_objective, ranking_weights

# Below this many events a carve is too few to choose anything by (the conversation tests' 160-event shop
# carves 16 users): the default blend is served, early-stopped on a share of the latest events as before.
MIN_TO_CHOOSE = 1_000
ABSURD = 1e4  # an exported factor or bias beyond this is divergence (regularised fits stay within about 10)


def fit(data: TrainData, params: TrainParams | None = None,
        callback: Callable[[dict], None] | None = None,
        catalog_vectors: Callable[[np.ndarray], np.ndarray] | None = None,
        on_validated: Callable[[carve.Carve, Factors, TrainData], dict | None] | None = None) -> Factors:
    """Fit one objective on ``data`` (``auto``: ranking, the factors a run serves).

    Parameters
    ----------
    data : the events (ratings NaN for implicit ones) and optional text vectors.
    params : hyper-parameters; ``resolved`` ones (what a version records) are taken as they are.
    callback : called with one dict per epoch or sweep: ``epoch``, ``loss``, ``seconds`` and the validation
        figure (``val_recall@20`` for ranking, ``val_rmse`` for rating; None without a validation share).
    catalog_vectors : the text vectors of items (by index) read by their catalog text alone, without reviews:
        what the new-items carve reads its stripped items by (``carve.validation_data``).
    on_validated : called with the carve, the validated factors and the data they saw, once validated: what
        it returns goes to ``validation["context"]`` (the job chooses the context weights there).

    A ranking fit under ``params.select`` validates on the shop's own carves (``carve``), chooses its blend
    there (``selection``), goes on over every event, and serves the chosen blend (``Factors.validation``).

    Raises TrainingDiverged when a loss, a validation figure or an exported array is not finite, and
    ValueError for a rating fit without ratings.
    """
    p = params or TrainParams()
    objective = choose_objective(data, p.objective)
    torch.manual_seed(p.seed)
    gen = torch.Generator().manual_seed(p.seed)
    rng = np.random.default_rng(p.seed)
    p = p.resolved(objective, data.n_users + data.n_items)
    if objective == "ranking":
        rows = np.arange(len(data.users))
        data = replace(data, weights=ranking_weights(data, p))
    else:
        rows = np.flatnonzero(data.rated)
        if not len(rows):
            raise ValueError("a rating fit needs ratings, and the data holds none")
    callback = _finite_only(objective, callback)
    chooses = p.select and p.val_fraction > 0 and p.solver != "gibbs" and len(rows) >= MIN_TO_CHOOSE
    if objective == "ranking" and chooses:
        return _checked(_fit_selected(data, p, gen, rng, callback, catalog_vectors, on_validated), objective, p)
    train_rows, val_rows = _carve_validation(data, rows, objective, p.val_fraction, rng)
    if p.solver == "gibbs":
        start = model.starting_point(data, p, gen)  # the same start (semantic or random) as Adam's
        factors = bayes.fit_gibbs(data, p, train_rows, val_rows, start, callback)
    else:
        factors = model.fit_adam(data, p, train_rows, val_rows, gen, rng, callback)
    if objective == "ranking":  # the terms appended to the served factors, each where it applies
        p = replace(p, content_weight=content.unchosen_weight(data, p))
        fitted, (factors, terms) = factors, _widened(data, factors, p)
        yardstick = peers.yardstick(data, train_rows, val_rows, lambda held_out: _widened(held_out, fitted, p)[0])
        factors = replace(factors, terms=terms, peers=yardstick)
    return _checked(factors, objective, p)


def _checked(factors: Factors, objective: str, p: TrainParams) -> Factors:
    bad = factors.non_finite()
    if bad:
        raise TrainingDiverged(f"training diverged: the {objective} fit exported non-finite {', '.join(bad)}")
    largest = max(float(np.abs(a).max(initial=0.0)) for a in (factors.user_factors, factors.item_factors,
                                                              factors.user_bias, factors.item_bias))
    if largest > ABSURD:  # finite, but no regularised fit gets there: a step size that ran away
        raise TrainingDiverged(f"training diverged: the {objective} fit exported a factor or bias of {largest:.4g}"
                               f" (lr {p.lr:g})")
    return factors


def _widened(data: TrainData, factors: Factors, p: TrainParams) -> tuple[Factors, dict]:
    """The factors with each term appended (each brought to the spread of the factors' own scores), and the
    text map's share in new items' scores applied."""
    base, terms = factors, {}
    for name, term in (("neighbourhood", neighbourhood), ("content", content), ("lexical", lexical),
                       ("popularity", popularity), ("ease", ease)):
        factors, terms[name] = term.widen(data, factors, p, base)
    if p.select and p.text_map_weight != 1.0:
        factors = content.scale_text_map(data, replace(factors, terms=terms), p.text_map_weight)
        terms["content"]["text_map_weight"] = p.text_map_weight
    return factors, terms


def _fit_selected(data: TrainData, p: TrainParams, gen: torch.Generator, rng: np.random.Generator,
                  callback: Callable[[dict], None], catalog_vectors, on_validated=None) -> Factors:
    """Validate on the shop's carves, choose each route family's blend there, go on over every event, and
    append the chosen terms (fit on every event) to the served factors."""
    c = carve.carve(data, p.seed)
    data = carve.with_catalog_text(data, catalog_vectors)
    shown = carve.validation_data(data, c, catalog_vectors)
    validated, served = model.fit_adam(shown, p, c.fit_rows, c.stop_rows, gen, rng, callback, refit=data)
    report: dict = {"sizes": c.sizes()}
    chosen: dict[str, float] = {}
    for route, choice in (("next_items", selection.next_items(shown, c.fit_rows, c.next_rows, validated, p)),
                          ("new_items", selection.new_items(shown, c.fit_rows, c.new_items, validated, p))):
        if choice is not None:
            report[route] = choice.report()
            chosen |= choice.weights
    if (shoppers := few_events.choose(shown, c, validated)) is not None:
        report["new_users"] = shoppers
    if on_validated is not None and (extra := on_validated(c, validated, shown)):
        report["context"] = extra
    if "new_items" not in report:  # no carve to choose on: today's rule for the content weight
        chosen["content_weight"] = content.unchosen_weight(data, p)
    p = replace(p, **chosen)
    factors, terms = _widened(data, served, p)
    peers = report.get("next_items", {}).get("candidates", {})
    yardstick = {"semrec": report["next_items"]["served"]} if "next_items" in report else {}
    yardstick |= {name: peers[key] for name, key in (("popular", "popularity"), ("item_knn", "item_knn"))
                  if key in peers}
    return replace(factors, terms=terms, peers=yardstick, validation=report)


def _carve_validation(data: TrainData, rows: np.ndarray, objective: str, fraction: float,
                      rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Rating: a random share of the ratings. Ranking: each sampled user's latest-indexed event (the store
    hands events in time order), so validation asks the question serving asks: what comes next. Fewer than
    20 events: no validation (every event trains)."""
    if fraction <= 0 or len(rows) < 20:
        return rows, rows[:0]
    if objective == "rating":
        shuffled = rng.permutation(rows)
        n_val = max(1, int(len(rows) * fraction))
        return np.sort(shuffled[n_val:]), np.sort(shuffled[:n_val])
    counts = np.bincount(data.users[rows], minlength=data.n_users)
    last = np.full(data.n_users, -1)
    last[data.users[rows]] = rows  # later rows overwrite earlier ones
    eligible = np.flatnonzero((counts >= 3) & (last >= 0))
    if not len(eligible):
        return rows, rows[:0]
    n_val = min(len(eligible), max(1, int(len(eligible) * fraction * 4)), 2000)
    val = np.sort(last[rng.choice(eligible, size=n_val, replace=False)])
    return np.setdiff1d(rows, val), val


def _finite_only(objective: str, callback: Callable[[dict], None] | None) -> Callable[[dict], None]:
    """The solver's per-epoch callback, refusing a record with a NaN or infinity (a job writes records as JSON,
    and PostgreSQL's JSONB has no NaN)."""
    def check(record: dict) -> None:
        bad = {k: v for k, v in record.items() if isinstance(v, float) and not math.isfinite(v)}
        if bad:
            raise TrainingDiverged(f"training diverged: the {objective} fit's "
                                   + ", ".join(f"{k} is {v}" for k, v in bad.items())
                                   + f" at epoch {record.get('epoch')}")
        if callback:
            callback(record)
    return check
