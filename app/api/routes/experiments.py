"""Experiments (role write): A/B tests and interleaving between variants of the lists (``app.experiments``).
A write bumps the serving epoch, so every API process assigns shoppers from its next answer on; the figures
are read from the impressions each answer left (``app.measure.experiments``)."""

from fastapi import APIRouter, HTTPException, Request
from sqlalchemy.orm import Session

from app.api import V1
from app.api.deps import ItemId, SessionDep, WriteKey
from app.api.experiment_schemas import ROUTES, ExperimentIn, ExperimentList, ExperimentOut
from app.core.errors import FieldError
from app.experiments import ab_sample_size, interleaving_sample_size
from app.measure import experiments as figures
from app.store import experiments as store
from app.store.models import Experiment

router = APIRouter(prefix=f"{V1}/experiments", tags=["experiments"])
ExperimentId = ItemId  # the same id pattern
UNKNOWN = {404: {"description": "Unknown experiment"}}


def _shown(request: Request) -> None:
    """This process's own latest answers into the store first (the others' are at most one flush interval
    behind), as attribution does."""
    request.app.state.impressions.flush()


def _out(session: Session, experiment: Experiment) -> ExperimentOut:
    return ExperimentOut(
        experiment_id=experiment.experiment_id, method=experiment.method, metric=experiment.metric,
        routes=experiment.routes, status=store.status(experiment), planned=experiment.planned,
        min_lift=experiment.min_lift, base_rate=experiment.base_rate, starts_at=experiment.starts_at,
        ends_at=experiment.ends_at, stopped_at=experiment.stopped_at, created_at=experiment.created_at,
        **figures.report(session, experiment))


MAX_PLANNED = 1_000_000_000  # lists: a plan past this is no plan (and past what the store's column holds)


def _planned(method: str, base_rate: float, min_lift: float, design_effect: float) -> int:
    """The plan's lists; a 422 naming ``min_lift`` where the lift is too small (or the lifted rate not a rate)
    for any plan to reach: floats that make the effect vanish, or more than ``MAX_PLANNED`` lists."""
    try:
        if method == "ab":  # lists per variant, scaled for shoppers who come back (app.measure.experiments)
            planned = ab_sample_size(base_rate, min_lift, design_effect=design_effect)
        else:
            planned = interleaving_sample_size(base_rate, min_lift)
    except (ValueError, ZeroDivisionError, OverflowError):
        planned = None
    if planned is None or planned > MAX_PLANNED:
        raise FieldError(422, "min_lift", f"no plan reaches a lift of {min_lift:g} over a base rate of "
                         f"{base_rate:.4g} in {MAX_PLANNED:,} lists: ask for a larger min_lift (or base_rate)")
    return planned


@router.put("/{experiment_id}", response_model=ExperimentOut, responses={
    404: {"description": "A variant's model_version is unknown"},
    409: {"description": "Another running experiment holds one of the routes, or this one has shown lists"}})
def put_experiment(request: Request, experiment_id: ExperimentId, body: ExperimentIn, session: SessionDep,
                   _: WriteKey) -> ExperimentOut:
    """Start (or schedule) an experiment; it counts in the next answer of every API process. Replacing one is
    refused once it has shown lists (start another id instead)."""
    _shown(request)
    missing = store.missing_versions(session, {v.model_version for v in body.variants if v.model_version})
    if missing:
        raise HTTPException(404, f"model version {missing[0]!r} not found")
    routes = body.routes or list(ROUTES)
    measured_rate, design_effect = figures.history(session, routes, body.metric)
    base_rate = body.base_rate or measured_rate
    fields = {"method": body.method, "metric": body.metric, "routes": routes,
              "variants": [v.model_dump(mode="json", exclude={"params"}) | {
                  "params": v.params.model_dump(exclude_none=True)} for v in body.variants],
              "min_lift": body.min_lift, "base_rate": base_rate,
              "planned": _planned(body.method, base_rate, body.min_lift, design_effect),
              "starts_at": body.starts_at, "ends_at": body.ends_at}
    try:
        experiment, _created = store.put_experiment(session, experiment_id, fields)
    except store.Conflict as exc:
        raise HTTPException(409, str(exc)) from None
    return _out(session, experiment)


@router.get("", response_model=ExperimentList)
def list_experiments(request: Request, session: SessionDep, _: WriteKey) -> ExperimentList:
    """Every experiment, newest first, with its figures."""
    _shown(request)
    return ExperimentList(experiments=[_out(session, e) for e in store.list_experiments(session)])


@router.get("/{experiment_id}", response_model=ExperimentOut, responses=UNKNOWN)
def get_experiment(request: Request, experiment_id: ExperimentId, session: SessionDep, _: WriteKey) -> ExperimentOut:
    """Its variants' figures, the difference with its 95% interval and p-value, and the decision."""
    _shown(request)
    experiment = store.get_experiment(session, experiment_id)
    if experiment is None:
        raise HTTPException(404, f"experiment_id {experiment_id!r} not found")
    return _out(session, experiment)


@router.post("/{experiment_id}/stop", response_model=ExperimentOut, responses=UNKNOWN)
def stop_experiment(request: Request, experiment_id: ExperimentId, session: SessionDep, _: WriteKey) -> ExperimentOut:
    """No shopper is assigned to it from the next answer on; its figures and decision stay as read from what
    it showed."""
    _shown(request)
    experiment = store.stop_experiment(session, experiment_id)
    if experiment is None:
        raise HTTPException(404, f"experiment_id {experiment_id!r} not found")
    return _out(session, experiment)
