"""Experiments in the store: one row per experiment, written whole. Every write bumps the serving epoch in the
same transaction (as rules do, ``app.store.rules``), so every API process assigns shoppers to it from its next
answer on. What an experiment showed is not here: its impressions carry its id (``app.measure.experiments``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from app.store.crud import bump_serving_epoch
from app.store.models import Experiment, Impression, ModelVersion, utcnow

FIELDS = ("method", "metric", "routes", "variants", "min_lift", "base_rate", "planned", "starts_at", "ends_at")


class Conflict(Exception):
    """The write would break a rule across experiments; the message says which and why."""


def status(experiment: Experiment, now: datetime | None = None) -> str:
    """``stopped`` (by a stop), ``ended`` (past ``ends_at``), ``scheduled`` (before ``starts_at``) or
    ``running``."""
    now = now or utcnow()
    if experiment.stopped_at is not None:
        return "stopped"
    if experiment.ends_at is not None and experiment.ends_at <= now:
        return "ended"
    if experiment.starts_at is not None and experiment.starts_at > now:
        return "scheduled"
    return "running"


def live(experiment: Experiment, now: datetime | None = None) -> bool:
    """Running now or later: it holds its routes (at most one such experiment per route)."""
    return status(experiment, now) in ("running", "scheduled")


def missing_versions(session: Session, versions: set[str]) -> list[str]:
    """The named model versions the store does not have, sorted."""
    if not versions:
        return []
    found = set(session.scalars(select(ModelVersion.version).where(ModelVersion.version.in_(versions))))
    return sorted(versions - found)


def has_shown(session: Session, experiment_id: str) -> bool:
    return bool(session.scalar(select(exists().where(Impression.experiment_id == experiment_id))))


def put_experiment(session: Session, experiment_id: str, fields: dict[str, Any]) -> tuple[Experiment, bool]:
    """Create or replace an experiment; (the experiment, whether it was created). The epoch is bumped first: its
    row lock makes concurrent writes take turns, so two experiments on one route cannot both pass the overlap
    check. Raises ``Conflict`` where another live experiment holds one of its routes, or where this one has
    already shown lists (its figures would mix two designs: start a new experiment id)."""
    bump_serving_epoch(session)
    experiment = session.get(Experiment, experiment_id)
    created = experiment is None
    if not created and has_shown(session, experiment_id):
        raise Conflict(f"experiment {experiment_id!r} has already shown lists: its design can no longer change "
                       "(stop it and start another experiment id)")
    routes = set(fields["routes"])
    now = utcnow()
    for other in session.scalars(select(Experiment).where(Experiment.experiment_id != experiment_id,
                                                          Experiment.stopped_at.is_(None))):
        shared = routes & set(other.routes)
        if shared and live(other, now) and _overlap(fields, other):
            raise Conflict(f"experiment {other.experiment_id!r} is running on route(s) {', '.join(sorted(shared))}: "
                           "at most one running experiment per route (stop it first)")
    if created:
        experiment = Experiment(experiment_id=experiment_id, created_at=now)
        session.add(experiment)
    for name in FIELDS:
        setattr(experiment, name, fields[name])
    experiment.stopped_at = None
    session.flush()
    return experiment, created


def _overlap(fields: dict[str, Any], other: Experiment) -> bool:
    """Whether the two experiments' time windows share a moment (open ends reach forever)."""
    starts, ends = fields["starts_at"], fields["ends_at"]
    return (ends is None or other.starts_at is None or other.starts_at < ends) and \
        (starts is None or other.ends_at is None or starts < other.ends_at)


def get_experiment(session: Session, experiment_id: str) -> Experiment | None:
    return session.get(Experiment, experiment_id)


def list_experiments(session: Session) -> list[Experiment]:
    return list(session.scalars(select(Experiment).order_by(Experiment.created_at.desc(),
                                                            Experiment.experiment_id)))


def stop_experiment(session: Session, experiment_id: str) -> Experiment | None:
    """No shopper is assigned to it from the next answer on; what it showed stays and is still read."""
    bump_serving_epoch(session)
    experiment = session.get(Experiment, experiment_id)
    if experiment is None:
        return None
    if experiment.stopped_at is None:
        experiment.stopped_at = utcnow()
    session.flush()
    return experiment


def running(session: Session, now: datetime | None = None) -> list[Experiment]:
    """Experiments not stopped and not past their end (those not started yet included: serving checks the
    start per answer)."""
    now = now or utcnow()
    rows = session.scalars(select(Experiment).where(Experiment.stopped_at.is_(None)).order_by(Experiment.experiment_id))
    return [r for r in rows if r.ends_at is None or r.ends_at > now]
