"""Bearer-token authentication as a dependency: 401 without a valid token, 403 without scope."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request

from controlplane.settings import Scope
from smsplatform.http.errors import ApiError
from smsplatform.http.tokens import Principal, TokenRegistry

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def require_scope(scope: Scope) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency that yields the caller's Principal if its token carries `scope` (or admin)."""

    async def dependency(request: Request) -> Principal:
        registry: TokenRegistry = request.app.state.tokens
        presented = bearer_token(request)
        if presented is None:
            raise ApiError(401, "missing bearer token", headers=_CHALLENGE)
        principal = registry.authenticate(presented)
        if principal is None:
            raise ApiError(401, "invalid token", headers=_CHALLENGE)
        if not principal.may(scope):
            raise ApiError(403, f"token lacks scope {scope!r}", required_scope=scope)
        return principal

    return dependency


def bearer_token(request: Request) -> str | None:
    """The token of an `Authorization: Bearer ...` header, or None."""
    kind, _, presented = request.headers.get("authorization", "").partition(" ")
    if kind.lower() != "bearer" or not presented.strip():
        return None
    return presented.strip()
