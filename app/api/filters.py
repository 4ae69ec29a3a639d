"""The list filters of a GET route: the same names and rules as a POST body's ``filters``
(``recommendation_schemas.Filters``), as query parameters: ``category`` and the id lists repeated, ``attributes``
a JSON object in one parameter. A bad one is a 422 naming it, as a body's would be."""

from typing import Annotated

import orjson
from fastapi import Query
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from app.api.recommendation_schemas import MAX_FILTER_IDS
from app.api.recommendation_schemas import Filters as FiltersIn
from app.api.schemas import Id, ShortText
from app.recommender.filters import Filters

Price = Annotated[float | None, Query(ge=0)]


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
