"""Model versions: list them, and activate one (rollback)."""

from fastapi import APIRouter, HTTPException

from app.api import V1
from app.api.deps import SessionDep, WriteKey
from app.api.model_schemas import ModelList, ModelOut
from app.model import versions

router = APIRouter(prefix=f"{V1}/models", tags=["models"])


@router.get("", response_model=ModelList)
def list_models(session: SessionDep, _: WriteKey) -> ModelList:
    """Newest first; exactly one is active once a training job has succeeded."""
    return ModelList(models=[ModelOut.model_validate(v, from_attributes=True) for v in versions.list_versions(session)])


@router.get("/{version}", response_model=ModelOut, responses={404: {"description": "Unknown version"}})
def get_model(version: str, session: SessionDep, _: WriteKey) -> ModelOut:
    """One version: its metrics, parameters and `validation` (what it knows about itself)."""
    found = versions.get(session, version)
    if found is None:
        raise HTTPException(404, f"model version {version!r} not found")
    return ModelOut.model_validate(found, from_attributes=True)


@router.post("/{version}/activate", response_model=ModelOut, responses={404: {"description": "Unknown version"}})
def activate_model(version: str, session: SessionDep, _: WriteKey) -> ModelOut:
    """Recommendations come from this version from now on."""
    if not versions.activate(session, version):
        raise HTTPException(404, f"model version {version!r} not found")
    session.flush()
    return ModelOut.model_validate(versions.active(session), from_attributes=True)
