"""Bought together and trending (role read suffices): lists read from the items' counts that ingestion keeps
up (``app.recommender.carousels``), answered like the other lists (one short read of the store, then memory)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from app.api import V1
from app.api.deps import ItemId, ReadKey
from app.api.filters import query_filters
from app.api.recommendation_schemas import RecommendationList
from app.api.routes.recommendations import JSONResponse, K, _answer, _json, item_list
from app.recommender.carousels import MAX_HOURS, Carousels
from app.recommender.filters import Filters

router = APIRouter(prefix=V1, tags=["recommendations"])
Hours = Annotated[int, Query(ge=1, le=MAX_HOURS, description=f"The recent window in hours (1-{MAX_HOURS}).")]


def _carousels(request: Request) -> Carousels:
    return request.app.state.carousels


@router.get("/items/{item_id}/bought-together", response_model=RecommendationList,
            responses={404: {"description": "Unknown item"}})
async def bought_together(request: Request, item_id: ItemId, _: ReadKey,
                          filters: Annotated[Filters, Depends(query_filters)], k: K = 10) -> JSONResponse:
    """Items bought with this one (a purchase or rating of the same shopper within `SEMREC_BASKET_HOURS`),
    best first by how much more often than chance, shrunk for rare pairs (strategy `bought_together`). Fewer
    than k such items: popular ones follow, each with a `because` that says so; none at all: strategy
    `popular`. Current with every acknowledged event."""
    carousels = _carousels(request)
    return item_list(request, await _answer(request, lambda: carousels.bought_together(item_id, k, filters)), item_id,
                     "bought_together")


@router.get("/trending", response_model=RecommendationList)
async def trending(request: Request, _: ReadKey, filters: Annotated[Filters, Depends(query_filters)], k: K = 10,
                   hours: Hours = 24) -> JSONResponse:
    """Items whose events of the last `hours` (the latest weighing most) most exceed their usual rate (the
    four weeks before), shrunk for small counts (strategy `trending`); popular ones follow when fewer than k
    do, each with a `because` that says so; none at all: strategy `popular`. Current within
    `SEMREC_REFRESH_SECONDS` of new events."""
    carousels = _carousels(request)
    return _json(request, await _answer(request, lambda: carousels.trending(k, hours, filters)), "trending")
