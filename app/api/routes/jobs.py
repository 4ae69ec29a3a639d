"""Jobs: embedding (and later training) runs queued in the store and executed by a worker."""

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query

from app.api import V1
from app.api.deps import SessionDep, WriteKey
from app.api.job_schemas import EmbeddingJobIn, JobAccepted, JobList, JobOut, Progress, TrainingJobIn
from app.model.factors import DEFAULT_EVENT_WEIGHTS
from app.store import queue
from app.store.models import Job

router = APIRouter(prefix=V1, tags=["jobs"])


def job_out(job: Job) -> JobOut:
    return JobOut(
        job_id=job.job_id, kind=job.kind, status=job.status, params=job.params or {},
        progress=Progress(done=job.progress_done, total=job.progress_total), attempts=job.attempts,
        created_at=job.created_at, started_at=job.started_at, finished_at=job.finished_at,
        result=job.result, error=job.error,
    )


@router.post("/embeddings/jobs", status_code=202, response_model=JobAccepted)
def post_embedding_job(session: SessionDep, _: WriteKey, body: EmbeddingJobIn = EmbeddingJobIn()) -> JobAccepted:
    """Queue an embedding job: users' and items' text to vectors, stale ones only by default (no body: every
    stale vector).
    Follow it with `GET /v1/jobs/{job_id}`."""
    job = queue.enqueue(session, "embedding", body.model_dump())
    return JobAccepted(job_id=job.job_id, status=job.status)


@router.post("/training/jobs", status_code=202, response_model=JobAccepted)
def post_training_job(session: SessionDep, _: WriteKey, body: TrainingJobIn = TrainingJobIn()) -> JobAccepted:
    """Queue a training job: it embeds what is stale, trains on every interaction in the store, reports
    each epoch's loss and validation metric on the job, and activates the new model version only if it
    succeeds. No body: the defaults. Follow it with `GET /v1/jobs/{job_id}`."""
    params = body.model_dump(exclude_none=True)
    if params.get("event_weights"):
        params["event_weights"] = {**DEFAULT_EVENT_WEIGHTS, **params["event_weights"]}
    job = queue.enqueue(session, "training", params)
    return JobAccepted(job_id=job.job_id, status=job.status)


@router.get("/jobs/{job_id}", response_model=JobOut, responses={404: {"description": "Unknown job"}})
def get_job(job_id: str, session: SessionDep, _: WriteKey) -> JobOut:
    job = queue.get(session, job_id)
    if job is None:
        raise HTTPException(404, f"job_id {job_id!r} not found")
    return job_out(job)


@router.get("/jobs", response_model=JobList)
def list_jobs(
    session: SessionDep,
    _: WriteKey,
    kind: Literal["embedding", "training", "reviews"] | None = None,
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> JobList:
    """Newest first."""
    return JobList(jobs=[job_out(j) for j in queue.list_jobs(session, kind, status, limit)])
