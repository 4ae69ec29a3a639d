"""Recommendations (role read suffices): for a user, ranking given candidates, similar items, free text.

The hot path of the service. Each answer is one short read of the store plus in-memory work (the model, its
FAISS index, the catalog view), a few hundred microseconds: on SQLite, a local file read of tens of
microseconds, it runs inline on the event loop, saving the thread-pool round trip that would cost about as
much again; with a networked store (PostgreSQL) the read's round trip would hold the loop, so there it runs in
the thread pool. Answers are serialised once, straight from the recommender's dicts, by orjson (40 µs less
than the standard library's encoder for a 10-item answer; the response models document them).
"""

from collections.abc import Callable
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import ValidationError

from app.api import V1
from app.api.deps import ItemId, ReadKey, UserId
from app.api.recommendation_schemas import (
    MAX_FILTER_IDS,
    Diversity,
    RankedList,
    RankIn,
    RecommendationList,
    RecommendIn,
)
from app.api.recommendation_schemas import Filters as FiltersIn
from app.api.schemas import ContextValue, Id, ShortText, Timestamp
from app.recommender.filters import Filters
from app.recommender.service import Answer, ListRequest, Recommender

router = APIRouter(prefix=V1, tags=["recommendations"])
K = Annotated[int, Query(ge=1, le=1000, description="How many items (1-1000).")]
Price = Annotated[float | None, Query(ge=0)]


def _recommender(request: Request) -> Recommender:
    return request.app.state.recommender


async def _answer(request: Request, compute: Callable[[], Answer | None], inline: bool = True) -> Answer | None:
    if inline and request.app.state.settings.is_sqlite:
        return compute()
    return await run_in_threadpool(compute)


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content) -> bytes:
        return orjson.dumps(content)


def _json(answer: Answer) -> JSONResponse:
    body = {"model_version": answer.model_version, "strategy": answer.strategy, "items": answer.items}
    if answer.unknown is not None:
        body["unknown"] = answer.unknown
    return JSONResponse(body)


def query_filters(
    category: Annotated[list[ShortText] | None, Query(max_length=100, description=(
        "A category; repeat it for any of several."))] = None,
    min_price: Price = None, max_price: Price = None,
    attributes: Annotated[str | None, Query(max_length=20_000, description=(
        'Equality on attributes, as a JSON object: `{"brand": "Stride"}` or `{"brand": ["Stride", "Trail"]}` '
        "(any of a list; every name must match)."))] = None,
    item_ids: Annotated[list[Id] | None, Query(max_length=MAX_FILTER_IDS, description=(
        "Only these items (repeat the parameter)."))] = None,
    exclude_item_ids: Annotated[list[Id] | None, Query(max_length=MAX_FILTER_IDS, description=(
        "Never these items (repeat the parameter; at most 1000)."))] = None,
) -> Filters:
    """The list filters of a GET route, the same names and rules as a POST body's ``filters``."""
    try:
        parsed = orjson.loads(attributes) if attributes is not None else None
        if parsed is not None and not isinstance(parsed, dict):
            raise ValueError
    except ValueError:
        raise RequestValidationError([{"type": "json_object", "loc": ("query", "attributes"), "input": attributes,
                                       "msg": "must be a JSON object of attribute names to values"}]) from None
    try:
        f = FiltersIn.model_validate({"category": category, "min_price": min_price, "max_price": max_price,
                                      "attributes": parsed, "item_ids": item_ids,
                                      "exclude_item_ids": exclude_item_ids}, strict=False)
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("query", *e["loc"])} for e in exc.errors()]) from None
    return f.selection()


@router.get("/users/{user_id}/recommendations", response_model=RecommendationList)
async def user_recommendations(
    request: Request, user_id: UserId, _: ReadKey, filters: Annotated[Filters, Depends(query_filters)],
    k: K = 10, exclude_seen: bool = True,
    at: Annotated[Timestamp | None, Query(description="The context's time (ISO 8601; UTC when no offset).")] = None,
    location: Annotated[ContextValue | None, Query()] = None, device: Annotated[ContextValue | None, Query()] = None,
    explain: Annotated[bool, Query(description="Give each item a `because` in words.")] = False,
    diversity: Annotated[Diversity, Query()] = 0.0,
) -> JSONResponse:
    """The user's top k among available items, their seen items excluded by default. An unknown user is a
    new visitor: they get text- or popularity-based items, never a 404. Filters apply before the top k is
    taken. A context (`at`, `location`, `device`) moves items by what the stored events show of it; values
    never seen change nothing."""
    recommender = _recommender(request)
    context = {name: value for name, value in (("timestamp", at), ("location", location), ("device", device))
               if value is not None}
    asked = ListRequest(user_id, k, exclude_seen, filters, context=context, explain=explain, diversity=diversity)
    return _json(await _answer(request, lambda: recommender.recommend(asked)))


@router.post("/users/{user_id}/rank", response_model=RankedList)
async def rank(request: Request, user_id: UserId, body: RankIn, _: ReadKey) -> JSONResponse:
    """The given items, best first, each with a score; ids the catalog does not know under `unknown`."""
    recommender = _recommender(request)
    return _json(await _answer(request, lambda: recommender.rank(user_id, body.item_ids)))


@router.get("/items/{item_id}/similar", response_model=RecommendationList,
            responses={404: {"description": "Unknown item"}})
async def similar(request: Request, item_id: ItemId, _: ReadKey, filters: Annotated[Filters, Depends(query_filters)],
                  k: K = 10) -> JSONResponse:
    """Available items most like this one in the model's factor space (popular ones for an item stored
    since serving last refreshed its catalog), within the filters."""
    recommender = _recommender(request)
    answer = await _answer(request, lambda: recommender.similar(item_id, k, filters))
    if answer is None:
        raise HTTPException(404, f"item_id {item_id!r} not found")
    return _json(answer)


@router.post("/recommendations", response_model=RecommendationList)
async def recommend(request: Request, _: ReadKey, body: RecommendIn = RecommendIn()) -> JSONResponse:
    """Recommendations for a user, a visitor known by this session's `items`, a free-text query (mapped into
    factor space through the text map), or these mixed; a `context` moves items by what the stored events show
    of it (values never seen change nothing). No body: the popular items, as for a visitor the service knows
    nothing of."""
    recommender = _recommender(request)
    context = body.context.model_dump(exclude_none=True) if body.context else None
    # A query is encoded by the language model (milliseconds of CPU; the first one may load it): never on the loop.
    asked = ListRequest(body.user_id, body.k, body.exclude_seen, body.filters.selection(), query=body.query,
                        context=context, explain=body.explain, items=tuple(body.items or ()),
                        diversity=body.diversity)
    return _json(await _answer(request, lambda: recommender.recommend(asked), inline=not body.query))
