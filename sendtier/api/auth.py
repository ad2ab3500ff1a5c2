"""Tenant authentication: the bearer token names the tenant, compared in constant time."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from fastapi import Request

from sendtier.settings import TenantSettings
from smsplatform.http.errors import ApiError
from smsplatform.http.tokens import TokenRegistry

_CHALLENGE: Final = {"WWW-Authenticate": "Bearer"}


class TenantDirectory:
    """The configured tenants, found by their API token."""

    def __init__(self, tenants: Iterable[TenantSettings]) -> None:
        self._by_name = {tenant.name: tenant for tenant in tenants}
        # TokenRegistry compares every token with hmac.compare_digest; scopes are not used here.
        self._tokens = TokenRegistry(
            [(t.name, t.token.get_secret_value(), frozenset()) for t in self._by_name.values()]
        )

    def authenticate(self, authorization: str) -> TenantSettings | None:
        """The tenant whose token an `Authorization: Bearer …` header carries, or None."""
        kind, _, presented = authorization.partition(" ")
        if kind.lower() != "bearer" or not presented.strip():
            return None
        principal = self._tokens.authenticate(presented.strip())
        return None if principal is None else self._by_name[principal.name]

    def __len__(self) -> int:
        return len(self._by_name)


async def current_tenant(request: Request) -> TenantSettings:
    """FastAPI dependency: the calling tenant, or 401."""
    directory: TenantDirectory = request.app.state.tenants
    header = request.headers.get("authorization")
    if not header:
        raise ApiError(401, "missing bearer token", headers=_CHALLENGE)
    tenant = directory.authenticate(header)
    if tenant is None:
        raise ApiError(401, "invalid token", headers=_CHALLENGE)
    return tenant
