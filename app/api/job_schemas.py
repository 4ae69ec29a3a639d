"""Jobs: embedding and training requests, and a job as GET /v1/jobs/{job_id} gives it."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.api.schemas import Body, Int


class EmbeddingJobIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"target": "all", "only_stale": True}]})

    target: Literal["items", "users", "all"] = "all"
    only_stale: bool = Field(True, description="Encode only what has no current vector (changed text or model).")


class JobAccepted(BaseModel):
    job_id: str
    status: str


class Progress(BaseModel):
    done: int
    total: int


class JobOut(BaseModel):
    job_id: str
    kind: str
    status: str
    params: dict[str, Any]
    progress: Progress
    attempts: int
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    result: dict[str, Any] | None = None
    error: str | None = None


class JobList(BaseModel):
    jobs: list[JobOut]


class TrainingJobIn(Body):
    """Every field is optional; the defaults suit catalogs from thousands to a million items."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"objective": "auto", "epochs": 60}]})

    objective: Literal["auto", "rating", "ranking"] = "auto"
    solver: Literal["auto", "gibbs", "adam"] | None = Field(
        None, description="auto: Gibbs sampling (Bayesian MF) for ratings, Adam for implicit events.")
    factors: Int(1, 1024) | None = None
    epochs: Int(1, 1000) | None = None
    patience: Int(1, 100) | None = None
    lr: Annotated[float, Field(gt=0, le=1)] | None = None
    reg: Annotated[float, Field(ge=0, le=100)] | None = None
    batch_size: Int(1, 1_000_000) | None = None
    init: Literal["semantic", "random"] | None = None
    text_map: bool | None = None
    seed: Int(0, 2**31 - 1) | None = None
    event_weights: dict[Literal["rating", "view", "click", "cart", "purchase"],
                        Annotated[float, Field(ge=0, le=1000)]] | None = Field(
        None, description="Weight of each event type in the ranking objective (purchase > cart > click > view).")
    select: bool | None = Field(
        None, description="Choose what each route family serves on the shop's own held-out events (default true; "
        "the version's `validation` shows the candidates and the choice). False serves the default blend.")
