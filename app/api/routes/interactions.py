"""Interactions: ratings and implicit events, in batches that are stored whole or not at all."""

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request

from app.api import V1
from app.api.deps import SessionDep, SettingsDep, UserId, WriteKey
from app.api.schemas import Attributed, IngestResult, InteractionBatch, InteractionList, InteractionOut
from app.measure import attribution
from app.store import crud

router = APIRouter(prefix=V1, tags=["interactions"])


def _context(row) -> dict[str, str] | None:
    context = {name: value for name in ("location", "device") if (value := getattr(row, name)) is not None}
    return context or None


@router.post("/interactions", response_model=IngestResult)
def post_interactions(body: InteractionBatch, session: SessionDep, settings: SettingsDep, request: Request,
                      _: WriteKey) -> IngestResult:
    """Store up to 10,000 events in one transaction. Unknown users and items are created bare;
    an event whose `event_id` is already known counts as a duplicate and is not stored again. Each click, cart
    and purchase is credited to the answer that showed its item (`recommendation_id`, else the latest one shown
    to the user within `SEMREC_ATTRIBUTION_HOURS`); `attributed` counts how."""
    records = [r.model_dump() for r in body.interactions]
    if any(r["recommendation_id"] or r["type"] in attribution.LAST_SHOWN_TYPES for r in records):
        request.app.state.impressions.flush()  # this process's own latest answers are in the store
        attribution.attribute(session, records, settings.attribution_hours)
    result = crud.ingest_interactions(session, records, settings.basket_hours, attribution.LAST_SHOWN_TYPES)
    credits = result.pop("attributions")
    request.app.state.metrics.count_attributions(credits)
    return IngestResult(**result, attributed=Attributed(
        recommendation_id=credits["recommendation_id"], last_shown=credits["last_shown"],
        unattributed=credits["unknown_id"] + credits["none"]))


@router.get("/users/{user_id}/interactions", response_model=InteractionList,
            responses={404: {"description": "Unknown user"}})
def get_interactions(
    user_id: UserId, session: SessionDep, _: WriteKey, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> InteractionList:
    """A user's interactions, newest first."""
    if crud.get_user(session, user_id) is None:
        raise HTTPException(404, f"user_id {user_id!r} not found")
    rows = crud.list_interactions(session, user_id, limit)
    return InteractionList(
        user_id=user_id,
        interactions=[
            InteractionOut(item_id=r.item_id, type=r.type, value=r.value, text=r.text, timestamp=r.ts,
                           event_id=r.event_id, context=_context(r))
            for r in rows
        ],
    )
