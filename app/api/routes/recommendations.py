"""Recommendations (role read suffices): for a user, ranking given candidates, similar items, free text.

The hot path of the service. Each answer is one short read of the store plus in-memory work (the model, its
FAISS index, the catalog view), a few hundred microseconds: on SQLite, a local file read of tens of
microseconds, it runs inline on the event loop, saving the thread-pool round trip that would cost about as
much again; with a networked store (PostgreSQL) the read's round trip would hold the loop, so there it runs in
the thread pool. Answers are serialised once, straight from the recommender's dicts, by orjson (40 µs less
than the standard library's encoder for a 10-item answer; the response models document them).

Each answer gets a fresh ``recommendation_id`` and its items their 1-based ``position`` here, in the route
layer: the recommender's answers may be kept and served again (app.recommender.answers), and their item dicts
shared, so they are copied, never changed. What was shown goes to the impression log (app.measure), one append.
"""

import os
import time
from collections.abc import Callable
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from app.api import V1
from app.api.deps import ItemId, ReadKey, UserId
from app.api.filters import query_filters
from app.api.recommendation_schemas import Diversity, RankedList, RankIn, RecommendationList, RecommendIn
from app.api.schemas import ContextValue, Timestamp
from app.recommender.filters import Filters
from app.recommender.service import Answer, ListRequest, Recommender
from app.recommender.variants import merge

router = APIRouter(prefix=V1, tags=["recommendations"])
K = Annotated[int, Query(ge=1, le=1000, description="How many items (1-1000).")]


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


def item_list(request: Request, answer: Answer | None, item_id: str, route: str) -> JSONResponse:
    """A list about one item (similar, bought together): a 404 naming it where the item is unknown."""
    if answer is None:
        raise HTTPException(404, f"item_id {item_id!r} not found")
    return _json(request, answer, route)


def new_recommendation_id() -> str:
    """32 hex characters: the time in milliseconds (12), then 80 random bits. Time first, so each new id sorts
    after the last and the impressions' index by id grows at its end, not at a random page (a random id's
    insert touches a page no recent one did: at millions of rows, a cache miss per row)."""
    return f"{time.time_ns() // 1_000_000:012x}{os.urandom(10).hex()}"


def positioned(items: list[dict]) -> list[dict]:
    """Copies of ``items`` with their 1-based positions (the originals may be a kept answer's)."""
    return [{**item, "position": n} for n, item in enumerate(items, 1)]


def shown(request: Request, route: str, model_version: str | None, items: list[dict], user_id: str | None = None,
          session_id: str | None = None, answer: Answer | None = None) -> tuple[str, list[dict]]:
    """A fresh recommendation id and copies of ``items`` with their positions; the impressions recorded, with
    the experiment's variant that made them. An interleaved answer's items are merged here, seeded by the id
    (``app.recommender.variants.merge``), and each item's impression names the variant that placed it."""
    recommendation_id = new_recommendation_id()
    teams = None
    if answer is not None and answer.arms is not None:
        arms = tuple((name, arm.items) for name, arm in answer.arms)
        items, teams = merge(arms, max(len(arm) for _, arm in arms), recommendation_id)
    request.app.state.impressions.record(recommendation_id, route, model_version, user_id, session_id,
                                         [item["item_id"] for item in items],
                                         answer.variant if answer is not None else None,
                                         answer.experiment_id if answer is not None else None, teams)
    return recommendation_id, positioned(items)


def _json(request: Request, answer: Answer, route: str, user_id: str | None = None,
          session_id: str | None = None) -> JSONResponse:
    recommendation_id, items = shown(request, route, answer.model_version, answer.items, user_id, session_id,
                                     answer)
    body = {"recommendation_id": recommendation_id, "model_version": answer.model_version,
            "strategy": answer.strategy, "items": items}
    if answer.variant is not None:
        body["experiment_id"], body["variant"] = answer.experiment_id, answer.variant
    if answer.unknown is not None:
        body["unknown"] = answer.unknown
    if answer.rules is not None:
        body["rules"] = answer.rules
    return JSONResponse(body)


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
    return _json(request, await _answer(request, lambda: recommender.recommend(asked)), "recommendations",
                 user_id)


@router.post("/users/{user_id}/rank", response_model=RankedList)
async def rank(request: Request, user_id: UserId, body: RankIn, _: ReadKey) -> JSONResponse:
    """The given items, best first, each with a score; ids the catalog does not know under `unknown`."""
    recommender = _recommender(request)
    return _json(request, await _answer(request, lambda: recommender.rank(user_id, body.item_ids)), "rank", user_id)


@router.get("/items/{item_id}/similar", response_model=RecommendationList,
            responses={404: {"description": "Unknown item"}})
async def similar(request: Request, item_id: ItemId, _: ReadKey, filters: Annotated[Filters, Depends(query_filters)],
                  k: K = 10) -> JSONResponse:
    """Available items most like this one in the model's factor space (popular ones for an item stored
    since serving last refreshed its catalog), within the filters."""
    recommender = _recommender(request)
    return item_list(request, await _answer(request, lambda: recommender.similar(item_id, k, filters)), item_id,
                     "similar")


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
                        diversity=body.diversity, session_id=body.session_id)
    answer = await _answer(request, lambda: recommender.recommend(asked), inline=not body.query)
    route = "session" if body.items else "recommendations"  # the rules' and experiments' names (rules.ROUTES)
    return _json(request, answer, route, body.user_id, body.session_id)
