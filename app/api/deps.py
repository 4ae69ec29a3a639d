"""Named dependency types so routes read like prose: ``def put_item(session: SessionDep, _: WriteKey, ...)``."""

import math
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request, Security
from fastapi.security import APIKeyHeader
from sqlalchemy.orm import Session

from app.api.schemas import ID_PATTERN
from app.core.config import Settings
from app.core.security import Role

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="A read or write API key.")


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request: committed if the route returns, rolled back whole if it raises."""
    with request.app.state.sessions() as session, session.begin():
        yield session


async def get_app_settings(request: Request) -> Settings:  # async: no thread hop for a lookup
    return request.app.state.settings


async def _role(request: Request, key: str | None = Security(api_key_header)) -> Role:
    """The key's role; the rate limit is counted here, per key, once the key is known to be valid."""
    state = request.app.state
    role = state.keys.role_of(key)
    if role is None:
        raise HTTPException(401, "X-API-Key header missing or unknown", headers={"WWW-Authenticate": "X-API-Key"})
    if state.rate_limiter is not None and (wait := state.rate_limiter.wait_seconds(key)):
        raise HTTPException(429, "rate limit of this API key exceeded; retry after the Retry-After seconds",
                            headers={"Retry-After": str(max(1, math.ceil(wait)))})
    return role


async def require_write(role: Role = Depends(_role)) -> Role:
    if role is not Role.write:
        raise HTTPException(403, "X-API-Key has role read; this route needs role write")
    return role


# scope="function": the transaction commits before the response is sent, so a 2xx means committed (with the
# default request scope the commit would run after the client already has its answer).
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
ReadKey = Annotated[Role, Depends(_role)]
WriteKey = Annotated[Role, Depends(require_write)]

ItemId = Annotated[str, Path(pattern=ID_PATTERN, description="1-128 characters of A-Z a-z 0-9 . _ : @ -")]
UserId = Annotated[str, Path(pattern=ID_PATTERN, description="1-128 characters of A-Z a-z 0-9 . _ : @ -")]
