"""Who is using the console: the API's bearer token, from the login cookie or the header."""

from __future__ import annotations

from fastapi import Request

from controlplane.settings import Scope
from controlplane.web.security import bearer_token
from smsplatform.http.tokens import Principal, TokenRegistry

COOKIE = "smsctl_console_token"
# The API reads alerts with the operator scope and acks with it: the console asks the same.
READ_SCOPE: Scope = "operator"
ACK_SCOPE: Scope = "operator"


class ConsoleRefused(Exception):
    """The request may not do what it asks; `status` is 401 (who are you?) or 403 (not you)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def authorize(request: Request, scope: Scope) -> Principal:
    """The caller's Principal if its token (header, else cookie) carries `scope`."""
    presented = bearer_token(request) or request.cookies.get(COOKIE)
    if not presented:
        raise ConsoleRefused(401, "log in with an API token")
    registry: TokenRegistry = request.app.state.tokens
    principal = registry.authenticate(presented)
    if principal is None:
        raise ConsoleRefused(401, "that token is not valid")
    if not principal.may(scope):
        raise ConsoleRefused(403, f"your token lacks scope {scope!r}")
    return principal


def check_same_origin(request: Request) -> None:
    """Refuse a form posted from another site: the cookie would otherwise ride along (CSRF).

    The cookie is SameSite=Strict already; this also covers browsers that ignore that.
    """
    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
        raise ConsoleRefused(403, "form posted from another site")
