"""The read-key routes served on the event loop (the lists, rank, the carousels) resolve their dependencies
there too: FastAPI runs a plain ``def`` dependency in the thread pool, a thread hop on every request. With the
list filters' hop, a visitor's list took 4.4-4.6 ms in process; without it (and the read routers matched first)
2.5-2.6 ms (docs/serving.md, "Seventh round"). The conversation routes write the store, in the thread pool by
design."""

import inspect

from fastapi.routing import APIRoute

from app.api import deps
from app.api.main import api_router


def _calls(dependant):
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)


def _read_routes() -> list[APIRoute]:
    routes = []
    for included in api_router.routes:
        for route in included.original_router.routes:
            if isinstance(route, APIRoute):
                calls = set(_calls(route.dependant))
                if deps._role in calls and deps.require_write not in calls and _on_the_loop(route.dependant.call):
                    routes.append(route)
    return routes


def _on_the_loop(call) -> bool:
    """A coroutine function, or an instance whose ``__call__`` is one (a security scheme such as the key header)."""
    return inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(type(call).__call__)


def test_the_read_routes_are_found():
    paths = {route.path for route in _read_routes()}
    assert {"/v1/users/{user_id}/recommendations", "/v1/recommendations", "/v1/items/{item_id}/similar",
            "/v1/trending", "/v1/items/{item_id}/bought-together"} <= paths


def test_no_read_route_resolves_a_dependency_in_the_thread_pool():
    in_pool = [(route.path, getattr(call, "__name__", repr(call))) for route in _read_routes()
               for call in _calls(route.dependant) if not _on_the_loop(call)]
    assert in_pool == []
