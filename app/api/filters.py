"""The list filters of a GET route: the same names and meaning as a POST body's ``filters``
(``recommendation_schemas.Filters``), as query parameters: ``category``, ``attributes`` (``name:value``) and the id
lists repeated. A bad one is a 422 naming it, as a body's would be."""

from typing import Annotated

import orjson
from fastapi import Query
from pydantic import StringConstraints

from app.api.recommendation_schemas import MAX_FILTER_IDS
from app.api.schemas import Id, ShortText
from app.recommender.filters import Filters

Price = Annotated[float | None, Query(ge=0, allow_inf_nan=False)]


ATTRIBUTE_PATTERN = r"^[^:\x00]{1,128}:[^\x00]*$"


def _attribute_value(text: str):
    """A GET attribute filter's value: JSON where it reads as a JSON scalar (``true``, ``2``, ``"2"``), else the
    text itself (``Stride``)."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return text
    return value if isinstance(value, str | int | float | bool) else text


async def query_filters(
    category: Annotated[list[ShortText] | None, Query(max_length=100, description=(
        "A category; repeat it for any of several."))] = None,
    min_price: Price = None, max_price: Price = None,
    attributes: Annotated[list[Annotated[str, StringConstraints(max_length=20_000, pattern=ATTRIBUTE_PATTERN)]] | None,
                          Query(max_length=100, description=(
        "Equality on an attribute, as `name:value` (`brand:Stride`, `waterproof:true`, `size:2`; a value that "
        'reads as JSON is taken as JSON, so `brand:"true"` is the text). Repeat it: values of one name are any '
        "of them, and every name given must match."))] = None,
    item_ids: Annotated[list[Id] | None, Query(max_length=MAX_FILTER_IDS, description=(
        "Only these items (repeat the parameter)."))] = None,
    exclude_item_ids: Annotated[list[Id] | None, Query(max_length=MAX_FILTER_IDS, description=(
        "Never these items (repeat the parameter; at most 1000)."))] = None,
) -> Filters:
    """The list filters of a GET route, the same names and meaning as a POST body's ``filters``; the query's
    own schema states every rule, so whatever it admits is taken."""
    wanted: dict[str, list] = {}
    for pair in attributes or ():
        name, _, text = pair.partition(":")
        wanted.setdefault(name, []).append(_attribute_value(text))
    return Filters.of(category, min_price, max_price, wanted or None, item_ids, exclude_item_ids)
