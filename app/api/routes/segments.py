"""Segments of the served model version (app.segments): what each group of shoppers sets itself apart by,
and who is in it. Member lists are user data: role write."""

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request
from sqlalchemy import select

from app.api import V1
from app.api.deps import SessionDep, WriteKey
from app.api.segment_schemas import SegmentList, SegmentMembers
from app.store.models import User

router = APIRouter(prefix=f"{V1}/segments", tags=["segments"])


def _served(request: Request):
    return request.app.state.recommender.fresh_state().model


@router.get("", response_model=SegmentList)
def list_segments(request: Request, _: WriteKey) -> SegmentList:
    """Every segment of the served version, largest first (none before a model is trained)."""
    model = _served(request)
    if model is None or model.trained.segments is None:
        return SegmentList(model_version=model.version if model else None, segments=[])
    return SegmentList(model_version=model.version, segments=model.trained.segments.info)


@router.get("/{segment_id}/users", response_model=SegmentMembers, responses={404: {"description": "Unknown segment"}})
def segment_users(request: Request, session: SessionDep, _: WriteKey, segment_id: Annotated[int, Path(ge=0)],
                  limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> SegmentMembers:
    """The segment's users (erased ones left out), in the version's order."""
    model = _served(request)
    segments = model.trained.segments if model is not None else None
    if segments is None or segment_id >= len(segments.info):
        raise HTTPException(404, f"segment_id {segment_id} not found")
    ids = [model.trained.user_ids[p] for p in segments.members(segment_id).tolist()]
    users: list[str] = []
    for start in range(0, len(ids), 1000):  # erased since the version was trained: not listed
        chunk = ids[start: start + 1000]
        live = set(session.scalars(select(User.user_id).where(User.user_id.in_(chunk))))
        users += [u for u in chunk if u in live][: limit - len(users)]
        if len(users) >= limit:
            break
    return SegmentMembers(model_version=model.version, segment_id=segment_id, users=users)
