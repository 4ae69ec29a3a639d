"""Recommendations (role read suffices): for a user, ranking given candidates, similar items, free text."""

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request

from app.api import V1
from app.api.deps import ItemId, ReadKey, SessionDep, UserId
from app.api.schemas import RankedList, RankIn, RecommendationList, RecommendIn, ShortText
from app.recommender.service import EncoderNotReady, Recommender

router = APIRouter(prefix=V1, tags=["recommendations"])
K = Annotated[int, Query(ge=1, le=1000, description="How many items (1-1000).")]
Price = Annotated[float | None, Query(ge=0)]


def _recommender(request: Request) -> Recommender:
    return request.app.state.recommender


@router.get("/users/{user_id}/recommendations", response_model=RecommendationList)
def user_recommendations(
    request: Request, user_id: UserId, session: SessionDep, _: ReadKey, k: K = 10, exclude_seen: bool = True,
    category: Annotated[ShortText | None, Query()] = None, min_price: Price = None, max_price: Price = None,
) -> RecommendationList:
    """The user's top k among available items, their seen items excluded by default. An unknown user is a
    new visitor: they get text- or popularity-based items, never a 404."""
    answer = _recommender(request).recommend(session, user_id, k, exclude_seen, category, min_price, max_price)
    return RecommendationList(**answer.__dict__)


@router.post("/users/{user_id}/rank", response_model=RankedList)
def rank(request: Request, user_id: UserId, body: RankIn, session: SessionDep, _: ReadKey) -> RankedList:
    """The given items, best first, each with a score; ids the catalog does not know under `unknown`."""
    answer = _recommender(request).rank(session, user_id, body.item_ids)
    return RankedList(**answer.__dict__)


@router.get("/items/{item_id}/similar", response_model=RecommendationList,
            responses={404: {"description": "Unknown item"}})
def similar(request: Request, item_id: ItemId, session: SessionDep, _: ReadKey, k: K = 10) -> RecommendationList:
    """Available items most like this one in the model's factor space (popular ones for an item stored
    since serving last refreshed its catalog)."""
    answer = _recommender(request).similar(session, item_id, k)
    if answer is None:
        raise HTTPException(404, f"item_id {item_id!r} not found")
    return RecommendationList(**answer.__dict__)


@router.post("/recommendations", response_model=RecommendationList,
             responses={503: {"description": "The query encoder is still loading; retry"}})
def recommend(request: Request, body: RecommendIn, session: SessionDep, _: ReadKey) -> RecommendationList:
    """Recommendations for a user, a free-text query (mapped into factor space through the text map), or
    both mixed; `context` is handed to the ranking hook."""
    f = body.filters
    try:
        answer = _recommender(request).recommend(
            session, body.user_id, body.k, body.exclude_seen, f.category, f.min_price, f.max_price,
            query=body.query, context=body.context.model_dump(exclude_none=True) if body.context else None)
    except EncoderNotReady:
        raise HTTPException(503, "the query encoder is still loading; retry in a few seconds",
                            headers={"Retry-After": "2"}) from None
    return RecommendationList(**answer.__dict__)
