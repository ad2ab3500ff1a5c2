"""API tokens and scopes: who a bearer token belongs to and what it may do."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from controlplane.settings import ADMIN_TOKEN_ENV, AuthSettings, Scope
from smsplatform.http.tokens import TokenRegistry

# admin may do everything; the other scopes grant only themselves.
ALL_SCOPES: frozenset[Scope] = frozenset({"ingest", "operator", "admin"})


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
