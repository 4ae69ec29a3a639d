"""The job queue over the ``jobs`` table: enqueue, claim (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), leases.

A running job holds a lease that its worker renews; a job whose lease lapses (its worker died) goes back to
``queued`` until it has been tried ``max_attempts`` times, then ends ``failed``: nothing stays running forever.
"""

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from app.store.models import Job, utcnow

KINDS = ("embedding", "training")
STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")


class JobLost(RuntimeError):
    """The job is no longer ours (its lease lapsed and it was handed on): stop working on it."""


def enqueue(session: Session, kind: str, params: dict[str, Any]) -> Job:
    job = Job(job_id=str(uuid.uuid4()), kind=kind, status="queued", params=params, progress_done=0,
              progress_total=0, attempts=0, created_at=utcnow())
    session.add(job)
    session.flush()
    return job


def get(session: Session, job_id: str) -> Job | None:
    return session.get(Job, job_id)


def list_jobs(session: Session, kind: str | None, status: str | None, limit: int) -> list[Job]:
    stmt = select(Job).order_by(Job.created_at.desc()).limit(limit)
    if kind:
        stmt = stmt.where(Job.kind == kind)
    if status:
        stmt = stmt.where(Job.status == status)
    return list(session.scalars(stmt))


def claim(sessions: sessionmaker[Session], worker_id: str, kinds: tuple[str, ...], lease_s: float) -> Job | None:
    """Take the oldest queued job. Two workers never take the same one: PostgreSQL skips rows another
    transaction has locked, and the status guard on the UPDATE settles the race where rows are not locked
    (SQLite); the loser of such a race tries the next job rather than reporting an empty queue."""
    for _ in range(10):
        with sessions() as session, session.begin():
            job_id = session.scalars(
                select(Job.job_id)
                .where(Job.status == "queued", Job.kind.in_(kinds))
                .order_by(Job.created_at)
                .limit(1)
                .with_for_update(skip_locked=True)
            ).first()
            if job_id is None:
                return None
            now = utcnow()
            claimed = session.execute(
                update(Job)
                .where(Job.job_id == job_id, Job.status == "queued")
                .values(status="running", worker_id=worker_id, started_at=now, finished_at=None, error=None,
                        lease_expires_at=now + timedelta(seconds=lease_s), attempts=Job.attempts + 1)
            ).rowcount
        if claimed == 1:
            with sessions() as session:
                return session.get(Job, job_id)
    return None


def renew(sessions: sessionmaker[Session], job_id: str, worker_id: str, lease_s: float,
          done: int | None = None, total: int | None = None, result: dict[str, Any] | None = None) -> None:
    """Extend the lease (and record progress, and a partial result such as per-epoch metrics); raises
    JobLost if the job was handed to someone else."""
    values: dict[str, Any] = {"lease_expires_at": utcnow() + timedelta(seconds=lease_s)}
    if result is not None:
        values["result"] = result
    if done is not None:
        values["progress_done"] = done
    if total is not None:
        values["progress_total"] = total
    with sessions() as session, session.begin():
        mine = session.execute(
            update(Job)
            .where(Job.job_id == job_id, Job.worker_id == worker_id, Job.status == "running")
            .values(**values)
        ).rowcount
    if mine != 1:
        raise JobLost(job_id)


def finish(sessions: sessionmaker[Session], job_id: str, worker_id: str, status: str,
           result: dict[str, Any] | None = None, error: str | None = None) -> bool:
    with sessions() as session, session.begin():
        return session.execute(
            update(Job)
            .where(Job.job_id == job_id, Job.worker_id == worker_id, Job.status == "running")
            .values(status=status, result=result, error=error, finished_at=utcnow(), lease_expires_at=None)
        ).rowcount == 1


def release(sessions: sessionmaker[Session], job_id: str, worker_id: str) -> None:
    """Hand a job back (graceful shutdown): another worker takes it up at once."""
    with sessions() as session, session.begin():
        session.execute(
            update(Job)
            .where(Job.job_id == job_id, Job.worker_id == worker_id, Job.status == "running")
            .values(status="queued", worker_id=None, lease_expires_at=None, attempts=Job.attempts - 1)
        )


def recover_lapsed(sessions: sessionmaker[Session], max_attempts: int) -> int:
    """Requeue running jobs whose lease lapsed, or fail them once they have used up their attempts."""
    now = utcnow()
    lapsed = (Job.status == "running", Job.lease_expires_at < now)
    with sessions() as session, session.begin():
        failed = session.execute(
            update(Job).where(*lapsed, Job.attempts >= max_attempts).values(
                status="failed", finished_at=now, lease_expires_at=None,
                error=f"lease lapsed {max_attempts} times: its worker stopped (crash or kill) while running it")
        ).rowcount
        requeued = session.execute(
            update(Job).where(*lapsed, Job.attempts < max_attempts).values(
                status="queued", worker_id=None, lease_expires_at=None)
        ).rowcount
    return failed + requeued


RECENT_RESULTS = 20  # succeeded jobs searched, newest first, for the latest encoder throughput


def figures(session: Session, dialect: str) -> tuple[list, list, list]:
    """What the metrics scrape reads (``app.core.metrics``): jobs by (kind, status, count), finished ones by
    (kind, status, count, total seconds), and the results of the latest succeeded embedding and training jobs."""
    counts = session.execute(select(Job.kind, Job.status, func.count()).group_by(Job.kind, Job.status)).all()
    durations = session.execute(
        select(Job.kind, Job.status, func.count(), func.sum(_seconds(dialect)))
        .where(Job.status.in_(("succeeded", "failed")), Job.started_at.is_not(None), Job.finished_at.is_not(None))
        .group_by(Job.kind, Job.status)
    ).all()
    results = session.scalars(
        select(Job.result).where(Job.status == "succeeded", Job.kind.in_(("embedding", "training")))
        .order_by(Job.finished_at.desc()).limit(RECENT_RESULTS)
    ).all()
    return list(counts), list(durations), list(results)


def _seconds(dialect: str):
    """finished_at - started_at in seconds, in the store's own SQL (SQLite keeps datetimes as text)."""
    if dialect == "sqlite":
        return (func.julianday(Job.finished_at) - func.julianday(Job.started_at)) * 86400.0
    return func.extract("epoch", Job.finished_at - Job.started_at)
