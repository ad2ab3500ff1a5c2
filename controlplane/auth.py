"""API tokens and scopes: who a bearer token belongs to and what it may do."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from controlplane.settings import ADMIN_TOKEN_ENV, AuthSettings, Scope

# admin may do everything; the other scopes grant only themselves.
ALL_SCOPES: frozenset[Scope] = frozenset({"ingest", "operator", "admin"})


@dataclass(frozen=True)
class Principal:
    """The holder of a valid token."""

    name: str
    scopes: frozenset[Scope]

    def may(self, scope: Scope) -> bool:
        return scope in self.scopes or "admin" in self.scopes


@dataclass(frozen=True)
class _Token:
    secret: bytes
    principal: Principal


class TokenRegistry:
    """Checks presented bearer tokens against the configured ones in constant time."""

    def __init__(self, tokens: list[tuple[str, str, frozenset[Scope]]]) -> None:
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


@dataclass(frozen=True)
class TokenSetup:
    registry: TokenRegistry
    # Set when no admin token was configured and one was made up for this run; shown once at start.
    generated_admin_token: str | None


def build_tokens(auth: AuthSettings, environ: Mapping[str, str]) -> TokenSetup:
    """Tokens from settings, plus SMSCTL_ADMIN_TOKEN; generates an admin token if there is none."""
    tokens = [(t.name, t.token.get_secret_value(), frozenset(t.scopes)) for t in auth.tokens]
    generated = None
    if environ.get(ADMIN_TOKEN_ENV):
        tokens.append(("env-admin", environ[ADMIN_TOKEN_ENV], frozenset({"admin"})))
    elif not any("admin" in scopes for _, _, scopes in tokens):
        generated = secrets.token_urlsafe(24)
        tokens.append(("generated-admin", generated, frozenset({"admin"})))
    return TokenSetup(TokenRegistry(tokens), generated)
