"""Operational routes (no key): liveness, readiness, metrics."""

from typing import Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from app.store.migrate import current_revision
from app.store.models import ModelVersion

router = APIRouter(tags=["operations"])


class ReadyOut(BaseModel):
    status: Literal["ready", "not ready"]
    checks: dict[str, str] = Field(description="`store`, `schema` and `model`: `ok`, `none trained yet`, "
                                   "`serving <version>`, or what is wrong (`loading <version>`, `unreachable`).")


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process lives."""
    return {"status": "ok"}


@router.get("/readyz", response_model=ReadyOut, responses={
    503: {"model": ReadyOut, "description": "Not ready: the store is unreachable, the schema is not current, or "
          "the active model version is still loading (just after a training job or an activation)."}})
def readyz(request: Request) -> JSONResponse:
    """Store reachable, schema at head, and a model loaded (or none trained yet)."""
    state = request.app.state
    checks: dict[str, str] = {}
    try:
        revision = current_revision(state.engine)
        checks["store"] = "ok"
        checks["schema"] = "ok" if revision == state.schema_head else f"at {revision}, expected {state.schema_head}"
        with state.sessions() as session:
            active = session.scalar(select(ModelVersion.version).where(ModelVersion.active.is_(True)))
        serving = state.recommender.state
        served = serving.model.version if serving and serving.model else None
        if active is None:
            checks["model"] = "none trained yet"
        else:
            checks["model"] = f"serving {active}" if served == active else f"loading {active}"
    except SQLAlchemyError as exc:
        checks["store"] = f"unreachable ({exc.__class__.__name__})"
    ready = (checks.get("store") == "ok" and checks.get("schema") == "ok"
             and not checks.get("model", "").startswith("loading"))
    return JSONResponse({"status": "ready" if ready else "not ready", "checks": checks},
                        status_code=200 if ready else 503)


@router.get("/metrics", response_class=Response)
def metrics(request: Request) -> Response:
    """Prometheus text format."""
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
