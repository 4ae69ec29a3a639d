"""`/dashboard`: the page for the people who run a shop's recommendations (docs/dashboard.md).

A static front end (HTML, ES modules, Chart.js, all served from `static/`, nothing from a CDN) over the `/v1`
routes: the page holds no data and no key of its own; it signs in with an API key kept in `sessionStorage` and
sent as `X-API-Key`. Every answer here carries a Content-Security-Policy that allows only this origin.
"""

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

STATIC = Path(__file__).parent / "static"
# Only this origin: no inline script or style, no frames, no plugins, no form posts elsewhere.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
HEADERS = {"content-security-policy": CSP, "cache-control": "no-cache"}


class _Assets(StaticFiles):
    """The page's files, with the policy; `no-cache` revalidates them (ETag), so an upgrade shows at once."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_policy(message):
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()),
                                      *((k.encode(), v.encode()) for k, v in HEADERS.items())]
            await send(message)

        await super().__call__(scope, receive, with_policy)


def install(app: FastAPI) -> None:
    """Serve the dashboard at `/dashboard` (left out of the OpenAPI schema: it is a page, not the API)."""

    @app.get("/dashboard", include_in_schema=False)
    def dashboard() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers=HEADERS)

    @app.get("/dashboard/", include_in_schema=False)
    def dashboard_slash() -> RedirectResponse:
        return RedirectResponse("/dashboard")

    app.mount("/dashboard/static", _Assets(directory=STATIC), name="dashboard-static")
