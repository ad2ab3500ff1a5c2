"""Bearer-token authentication as a dependency: 401 without a valid token, 403 without scope."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request

from controlplane.auth import Principal, TokenRegistry
from controlplane.settings import Scope
from controlplane.web.errors import ApiError

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def require_scope(scope: Scope) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency that yields the caller's Principal if its token carries `scope` (or admin)."""

    async def dependency(request: Request) -> Principal:
        registry: TokenRegistry = request.app.state.tokens
        header = request.headers.get("authorization", "")
        kind, _, presented = header.partition(" ")
        if kind.lower() != "bearer" or not presented.strip():
            raise ApiError(401, "missing bearer token", headers=_CHALLENGE)
        principal = registry.authenticate(presented.strip())
        if principal is None:
            raise ApiError(401, "invalid token", headers=_CHALLENGE)
        if not principal.may(scope):
            raise ApiError(403, f"token lacks scope {scope!r}", required_scope=scope)
        return principal

    return dependency
