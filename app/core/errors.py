"""Errors as JSON that names the offending field or id; bad input never becomes a 5xx or a stack trace.

Every error answer has one shape, ``{"detail": "<field>: <message>", "errors": [{field, message}]}``
(``app.api.responses.ErrorOut``, declared on every route), whichever layer sends it: validation, a route,
the framework (404 of no route, 405, a body that is not JSON), the body limit, the store.
"""

import json
import logging
import re

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("semrec")


def field_name(loc: tuple) -> str:
    """("body", "interactions", 3, "value") -> "interactions[3].value"."""
    parts = [p for p in loc if p not in ("body", "query", "path", "header")] or list(loc[-1:])
    name = ""
    for p in parts:
        name += f"[{p}]" if isinstance(p, int) else (f".{p}" if name else str(p))
    return name or "body"


class FieldError(HTTPException):
    """An error about one field of the request: ``detail`` is "<field>: <message>", ``errors`` names it."""

    def __init__(self, status_code: int, field: str, message: str) -> None:
        super().__init__(status_code, f"{field}: {message}")
        self.errors = [{"field": field, "message": message}]


def error_body(detail: str, errors: list[dict[str, str]] | None = None) -> dict:
    return {"detail": detail, "errors": errors or []}


PARSE_ERROR = "There was an error parsing the body"  # FastAPI's 400 for a body it cannot decode at all


def allowed_methods(request: Request) -> str | None:
    """The methods the document gives the request's path, for a 405's Allow header (the router's own names
    only the first route whose path matched: PUT for ``/v1/items/batch``, taken as an item id). A path written
    out in the document (``/v1/items/batch``) is that resource, not a template's instance."""
    app = request.app
    if getattr(app.state, "path_methods", None) is None:
        app.state.path_methods = [
            (re.compile("^" + re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(path)) + "$"), "{" not in path,
             [m.upper() for m in ops]) for path, ops in app.openapi()["paths"].items()]
    matched = [(literal, ops) for pattern, literal, ops in app.state.path_methods if pattern.match(request.url.path)]
    if any(literal for literal, _ in matched):
        matched = [(literal, ops) for literal, ops in matched if literal]
    return ", ".join(sorted({m for _, ops in matched for m in ops})) or None


async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
    """Routes' and the framework's own errors in the one shape; a body that cannot be decoded as JSON
    (bytes that are not UTF-8) is a 422 naming ``body``, as one with a JSON syntax error is."""
    if exc.status_code == 400 and exc.detail == PARSE_ERROR:
        errors = [{"field": "body", "message": "not valid JSON (UTF-8)"}]
        return JSONResponse(error_body("body: not valid JSON (UTF-8)", errors), status_code=422)
    headers = exc.headers
    if exc.status_code == 405 and (allow := allowed_methods(request)):
        headers = {**(headers or {}), "Allow": allow}
    return JSONResponse(error_body(str(exc.detail), getattr(exc, "errors", None)), status_code=exc.status_code,
                        headers=headers)


async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    # a body that is not JSON: its loc holds the offset of the syntax error, not a field
    errors = [{"field": "body" if e["type"] == "json_invalid" else field_name(tuple(e["loc"])),
               "message": e["msg"].removeprefix("Value error, ")} for e in exc.errors()]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    if len(errors) > 5:
        detail += f"; and {len(errors) - 5} more"
    return JSONResponse(error_body(detail, errors[:100]), status_code=422)


async def store_unavailable(_request: Request, exc: OperationalError) -> JSONResponse:
    log.error("store unavailable: %s", exc.__class__.__name__)
    return JSONResponse(error_body("the store is unavailable, retry later"), status_code=503,
                        headers={"Retry-After": "1"})


async def unexpected_error(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return JSONResponse(error_body("internal error"), status_code=500)


def too_large_detail(max_body_size: int | None) -> str:
    return f"request body larger than {max_body_size} bytes"


async def content_too_large(request: Request, _exc: Exception) -> JSONResponse:
    """A body that grew over the limit while being read (chunked, or longer than it declared)."""
    return JSONResponse(error_body(too_large_detail(request.app.max_body_size)), status_code=413)


class JSONContentTooLarge:
    """Starlette's body limit answers a declared Content-Length over the limit with a plain-text 413 of its own,
    sent past every exception handler; this outermost layer re-words that answer as JSON ``{"detail": ...}``."""

    def __init__(self, app: ASGIApp, max_body_size: int | None) -> None:
        self.app = app
        self.body = json.dumps(error_body(too_large_detail(max_body_size))).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rewriting = False

        async def send_json_413(message: Message) -> None:
            nonlocal rewriting
            if message["type"] == "http.response.start" and message["status"] == 413:
                content_type = dict(message.get("headers", [])).get(b"content-type", b"")
                rewriting = content_type.startswith(b"text/plain")
                if rewriting:
                    headers = [(k, v) for k, v in message.get("headers", [])
                               if k not in (b"content-type", b"content-length")]
                    headers += [(b"content-type", b"application/json"),
                                (b"content-length", str(len(self.body)).encode())]
                    message = {**message, "headers": headers}
            elif message["type"] == "http.response.body" and rewriting:
                if message.get("more_body"):
                    return  # the plain-text body is dropped whole; ours goes with the last part
                message = {**message, "body": self.body}
            await send(message)

        await self.app(scope, receive, send_json_413)


def install(app: FastAPI) -> None:
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(OperationalError, store_unavailable)
    app.add_exception_handler(413, content_too_large)
    app.add_exception_handler(Exception, unexpected_error)
    build_stack = app.build_middleware_stack
    # outside the framework's body limit, so its own 413 passes through here too
    app.build_middleware_stack = lambda: JSONContentTooLarge(build_stack(), app.max_body_size)
