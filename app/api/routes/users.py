"""Users: profiles, one at a time and in bulk, and erasure."""

from fastapi import APIRouter, HTTPException, Request, Response

from app.api import V1
from app.api.deps import SessionDep, SettingsDep, UserId, WriteKey
from app.api.schemas import Upserted, UserBatch, UserIn, UserOut
from app.api.segment_schemas import SegmentRef
from app.core.config import Settings
from app.encoder.pipeline import ReviewTexts, is_current
from app.store import crud

router = APIRouter(prefix=f"{V1}/users", tags=["users"])


def _user_out(settings: Settings, session, user, request: Request) -> UserOut:
    out = UserOut.model_validate(user, from_attributes=True)
    out.embedded = is_current(session, "user", user.user_id, settings.encoder_name, ReviewTexts.of(settings))
    model = request.app.state.recommender.fresh_state().model
    if model is not None and model.trained.segments is not None:
        ref = model.trained.segments.of(model.user_positions.get(user.user_id))
        out.segment = SegmentRef(**ref) if ref else None
    return out


@router.put("/{user_id}", response_model=UserOut)
def put_user(user_id: UserId, body: UserIn, session: SessionDep, settings: SettingsDep, _: WriteKey,
             request: Request) -> UserOut:
    """Create or replace a user's profile. Sending the same profile again changes nothing."""
    crud.upsert_users(session, [{"user_id": user_id, **body.model_dump()}])
    return _user_out(settings, session, crud.get_user(session, user_id), request)


@router.post("/batch", response_model=Upserted)
def post_users(body: UserBatch, session: SessionDep, _: WriteKey) -> Upserted:
    """Upsert up to 10,000 users in one transaction: all of them or none."""
    return Upserted(upserted=crud.upsert_users(session, (r.model_dump() for r in body.users)))


@router.get("/{user_id}", response_model=UserOut, responses={404: {"description": "Unknown user"}})
def get_user(user_id: UserId, session: SessionDep, settings: SettingsDep, _: WriteKey, request: Request) -> UserOut:
    user = crud.get_user(session, user_id)
    if user is None:
        raise HTTPException(404, f"user_id {user_id!r} not found")
    return _user_out(settings, session, user, request)


@router.delete("/{user_id}", status_code=204, responses={404: {"description": "Unknown user"}})
def delete_user(user_id: UserId, session: SessionDep, settings: SettingsDep, _: WriteKey) -> Response:
    """Erase the user with their interactions, texts and vectors; no later model holds them."""
    if not crud.erase_user(session, user_id, settings.basket_hours):
        raise HTTPException(404, f"user_id {user_id!r} not found")
    return Response(status_code=204)
