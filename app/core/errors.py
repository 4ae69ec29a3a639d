"""Errors as JSON that names the offending field or id; bad input never becomes a 5xx or a stack trace."""

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError

log = logging.getLogger("semrec")


def field_name(loc: tuple) -> str:
    """("body", "interactions", 3, "value") -> "interactions[3].value"."""
    parts = [p for p in loc if p not in ("body", "query", "path", "header")] or list(loc[-1:])
    name = ""
    for p in parts:
        name += f"[{p}]" if isinstance(p, int) else (f".{p}" if name else str(p))
    return name or "body"


async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [{"field": field_name(tuple(e["loc"])), "message": e["msg"].removeprefix("Value error, ")}
              for e in exc.errors()]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    if len(errors) > 5:
        detail += f"; and {len(errors) - 5} more"
    return JSONResponse({"detail": detail, "errors": errors[:100]}, status_code=422)


async def store_unavailable(_request: Request, exc: OperationalError) -> JSONResponse:
    log.error("store unavailable: %s", exc.__class__.__name__)
    return JSONResponse({"detail": "the store is unavailable, retry later"}, status_code=503,
                        headers={"Retry-After": "1"})


async def unexpected_error(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return JSONResponse({"detail": "internal error"}, status_code=500)


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(OperationalError, store_unavailable)
    app.add_exception_handler(Exception, unexpected_error)
