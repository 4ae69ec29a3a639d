"""One pure-ASGI middleware (no per-request task, one layer for the hot path) for what every request gets:
a request id, security headers, request metrics and one access log line."""

import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.logs import request_id
from app.core.metrics import Metrics

access_log = logging.getLogger("semrec.access")

REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
SECURITY_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"no-referrer")]
NO_STORE = (b"cache-control", b"no-store")  # API answers are per key and change: never cached on the way


def incoming_request_id(scope: Scope) -> str | None:
    """The caller's X-Request-ID if it is a safe token (it goes into logs and a response header)."""
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            return candidate if REQUEST_ID.fullmatch(candidate) else None
    return None


class RequestMiddleware:
    """Labels and logs by the matched route's template, never the raw path; logs no header but the id."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = incoming_request_id(scope) or uuid.uuid4().hex
        # Not reset afterwards: each request runs in its own task (own context), and an unhandled error is
        # logged after this middleware has returned, still with the id.
        request_id.set(rid)
        headers = [*SECURITY_HEADERS, (b"x-request-id", rid.encode())]
        if scope["path"].startswith("/v1/"):
            headers.append(NO_STORE)
        status = 500
        start = time.perf_counter()

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), *headers]
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            elapsed = time.perf_counter() - start
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope["method"]
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(elapsed)
            if access_log.isEnabledFor(logging.INFO):
                duration_ms = round(elapsed * 1000, 2)
                access_log.info("%s %s %d %.2fms request_id=%s", method, route, status, duration_ms, rid,
                                extra={"method": method, "route": route, "status": status,
                                       "duration_ms": duration_ms, "request_id": rid})
