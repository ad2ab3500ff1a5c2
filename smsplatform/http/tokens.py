"""Bearer tokens: who a presented token belongs to and which scopes it carries."""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Principal:
    """The holder of a valid token."""

    name: str
    scopes: frozenset[str]

    def may(self, scope: str) -> bool:
        return scope in self.scopes or "admin" in self.scopes


@dataclass(frozen=True)
class _Token:
    secret: bytes
    principal: Principal


class TokenRegistry:
    """Checks presented bearer tokens against the configured ones in constant time."""

    def __init__(self, tokens: Sequence[tuple[str, str, frozenset[str]]]) -> None:
        self._tokens = [
            _Token(secret.encode(), Principal(name, scopes)) for name, secret, scopes in tokens
        ]

    def authenticate(self, presented: str) -> Principal | None:
        """The principal whose token this is, or None. Compares against every token, always."""
        candidate = presented.encode()
        found: Principal | None = None
        for token in self._tokens:
            if hmac.compare_digest(candidate, token.secret):
                found = token.principal
        return found

    def __len__(self) -> int:
        return len(self._tokens)
