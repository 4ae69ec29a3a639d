"""One error model, declared on every route for every status it can send (shared API.md, "Errors and the
OpenAPI document"), so a client generated from /openapi.json parses every answer the service gives.

The statuses a route can send follow from what it is made of, so they are derived here once rather than
listed by hand on each route (where one would be forgotten): a key dependency sends 401 and 429, the write
role 403, parameters or a body 422, a body 413, the store 503. What only the route knows (404, 409) it declares
itself with ``responses=``; this fills in the error model and a description for those too.
"""

from fastapi import APIRouter
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field

from app.api.deps import _role, require_write


class FieldError(BaseModel):
    field: str = Field(description="The offending field, as a path into the request: `interactions[3].value`, "
                       "`item_id`, `k`; `body` for the body as a whole.")
    message: str


class ErrorOut(BaseModel):
    """Every 4xx and 5xx answer of the API."""

    detail: str = Field(description="What went wrong, in one line that names the offending field or id "
                        "(`interactions[0].value: a rating needs a value from 1 to 5`).")
    errors: list[FieldError] = Field(default_factory=list, description=(
        "One entry per offending field (at most 100), for a client to show beside its inputs; empty when the "
        "error concerns no single field (an unknown key, a store that is down)."))


DESCRIPTIONS = {
    401: "X-API-Key missing or unknown.",
    403: "The key's role is read; this route needs role write.",
    404: "Not found: `detail` names the id.",
    409: "Conflict: `detail` says with what; send the request again.",
    413: "Request body larger than `SEMREC_MAX_BODY_BYTES`; nothing of it was stored.",
    422: "The request does not fit the schema (or a rule the schema states): `detail` names the field, "
         "`errors` lists each one. Nothing of the request was stored.",
    429: "Rate limit of this key exceeded (where `SEMREC_RATE_LIMIT_PER_SECOND` is set): retry after "
         "`Retry-After` seconds.",
    503: "The store is unavailable: retry after `Retry-After` seconds.",
}


def _calls(route: APIRoute) -> set:
    seen, stack = set(), [route.dependant]
    while stack:
        dependant = stack.pop()
        seen.add(dependant.call)
        stack.extend(dependant.dependencies)
    return seen


def statuses(route: APIRoute) -> set[int]:
    """The error statuses a route can send, from its dependencies, parameters and body, plus its own."""
    calls = _calls(route)
    codes = {int(code) for code in route.responses if str(code).isdigit() and int(code) >= 400}
    if _role in calls:
        codes |= {401, 429, 503}  # every keyed route reads the store
    if require_write in calls:
        codes.add(403)
    dependant = route.dependant
    if route.body_field is not None or dependant.path_params or dependant.query_params:
        codes.add(422)
    if route.body_field is not None:
        codes.add(413)
    return codes


def document(router: APIRouter) -> None:
    """Declare ErrorOut on each route of ``router`` for every error status it can send. Run it on a resource's
    router before it is included: an included router's routes are copies made from these."""
    for route in router.routes:
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        for code in sorted(statuses(route)):
            declared = dict(route.responses.get(code) or route.responses.get(str(code)) or {})
            route.responses.pop(str(code), None)
            route.responses[code] = {"description": DESCRIPTIONS.get(code, "Error."), "model": ErrorOut,
                                     **declared}
