"""Every HTTP route of every service, with who may call it, checked against the running services.

The table names each (service, method, path) with its access: a control-plane scope, a console
scope, a send-API tenant token, or public with the reason why. A route the apps serve that the
table does not list fails the test, and so does a listed route the apps no longer serve: a new
endpoint cannot ship without someone deciding who may call it.

Not listed: the supplier simulators and the notifier fakes (testbench/simulators, notifiers/
fakes). They stand in for the outside world (suppliers, DingTalk, WeCom, the voice provider) in
tests and demos, check those parties' own credentials, and are never part of a deployment.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import fastapi.routing
import httpx
import pytest
from fastapi import FastAPI
from security_world import ADMIN_TOKEN, INGEST_TOKEN, OPERATOR_TOKEN, TENANT_TOKEN, Stack

from controlplane.settings import Scope


@dataclass(frozen=True)
class Scoped:
    """A control-plane API token carrying `scope` (admin carries every scope)."""

    scope: Scope


@dataclass(frozen=True)
class Console:
    """A console page: the API token (login cookie or header) with `scope`. A reader without
    one is sent to the login page; a form posted without one is refused with 401."""

    scope: Scope


@dataclass(frozen=True)
class Tenant:
    """A send-API tenant token; control-plane tokens mean nothing there."""


@dataclass(frozen=True)
class Public:
    """No token: `why` says why that is right. `refused`: the status a request gets without the
    route's own credential (a signature, a signed link, the token typed into the login form),
    whatever bearer token it carries."""

    why: str
    refused: int | None = None


Access = Scoped | Console | Tenant | Public

OPERATOR, INGEST = Scoped("operator"), Scoped("ingest")
HEALTH = Public("liveness for the orchestrator; says only whether the database and bus answer")
METRICS = Public("Prometheus scrapes it; counters and gauges, no payloads or secrets")
API_DOCS = Public("the API's description; holds no data")
DOCS: dict[tuple[str, str], Access] = {
    ("GET", "/openapi.json"): API_DOCS,
    ("GET", "/docs"): API_DOCS,
    ("GET", "/docs/oauth2-redirect"): API_DOCS,
    ("GET", "/redoc"): API_DOCS,
}

ROUTES: dict[str, dict[tuple[str, str], Access]] = {
    "controlplane": {
        **DOCS,
        ("GET", "/healthz"): HEALTH,
        ("GET", "/metrics"): METRICS,
        ("POST", "/v1/events/{kind}"): INGEST,
        ("POST", "/api/v2/alerts"): INGEST,
        ("GET", "/v1/rules"): OPERATOR,
        ("POST", "/v1/rules/reload"): OPERATOR,
        ("GET", "/v1/alerts"): OPERATOR,
        ("GET", "/v1/alerts/{fingerprint}"): OPERATOR,
        ("POST", "/v1/alerts/{fingerprint}/ack"): OPERATOR,
        ("POST", "/v1/groups/{group_key:path}/ack"): OPERATOR,
        ("GET", "/v1/routing"): OPERATOR,
        ("GET", "/v1/routing/versions"): OPERATOR,
        ("GET", "/v1/routing/health"): OPERATOR,
        ("POST", "/v1/routing/{verb}"): OPERATOR,
        ("GET", "/v1/degradation"): OPERATOR,
        ("PUT", "/v1/degradation/manual"): OPERATOR,
        ("DELETE", "/v1/degradation/manual"): OPERATOR,
        ("POST", "/v1/silences"): OPERATOR,
        ("GET", "/v1/silences"): OPERATOR,
        ("DELETE", "/v1/silences/{silence_id}"): OPERATOR,
        # The link in a chat message: its HMAC signature (group, episode, expiry) is the
        # credential. A GET only shows the confirmation page; its form's POST acknowledges.
        ("GET", "/v1/ack"): Public("signed ack link: the signature is the credential", 403),
        ("POST", "/v1/ack"): Public(
            "the confirmation form: the signed link is the credential", 403
        ),
        # The voice provider's receipt push carries the deployment's callback token, not ours.
        ("POST", "/v1/callbacks/voice"): Public("voice push: its callback token is checked", 401),
        ("GET", "/console/login"): Public("the login form"),
        ("POST", "/console/login"): Public("checks the token typed into the form", 401),
        ("POST", "/console/logout"): Public("only clears the login cookie"),
        ("GET", "/console"): Console("operator"),
        ("GET", "/console/alerts/{fingerprint}"): Console("operator"),
        ("GET", "/console/inbox"): Console("operator"),
        ("POST", "/console/ack"): Console("operator"),
    },
    "api": {
        **DOCS,
        ("GET", "/healthz"): HEALTH,
        ("GET", "/metrics"): METRICS,
        ("POST", "/v1/messages"): Tenant(),
        ("POST", "/v1/messages/batch"): Tenant(),
        ("GET", "/v1/messages/{message_id}"): Tenant(),
        ("GET", "/v1/templates"): Tenant(),
        ("POST", "/v1/opt-outs"): Tenant(),
        ("GET", "/v1/opt-outs/{phone}"): Tenant(),
        ("DELETE", "/v1/opt-outs/{phone}"): Tenant(),
    },
    "receipts": {
        **DOCS,
        ("GET", "/healthz"): HEALTH,
        ("GET", "/metrics"): METRICS,
        # Suppliers sign pushes their own way (Twilio, CMPP) or carry the callback token in the
        # URL (Alibaba, Tencent); a push failing that is refused in the supplier's dialect.
        ("POST", "/v1/callbacks/{supplier}"): Public("supplier pushes, verified per dialect", 400),
    },
    "dispatch": {
        # No API docs: the dispatcher serves openapi_url=None.
        ("GET", "/healthz"): HEALTH,
        ("GET", "/metrics"): METRICS,
        ("GET", "/v1/routing"): Public("the routing table in force, for operators' dashboards"),
    },
    "persist": {**DOCS, ("GET", "/healthz"): HEALTH, ("GET", "/metrics"): METRICS},
}

# Values for path parameters: names that exist nowhere, so handlers answer 404 or 422 at most.
PATH_VALUES = {
    "kind": "receipts",
    "fingerprint": "0000000000000000",
    "group_key": "no-such-group",
    "verb": "drain",
    "silence_id": "no-such-silence",
    "message_id": "no-such-message",
    "phone": "13800000001",
    "supplier": "twilio-us",
}
TOKEN_OF: dict[Scope, str] = {
    "ingest": INGEST_TOKEN,
    "operator": OPERATOR_TOKEN,
    "admin": ADMIN_TOKEN,
}
# A token that lacks the scope: the other of the two scopes below admin.
LACKING: dict[Scope, str] = {"ingest": OPERATOR_TOKEN, "operator": INGEST_TOKEN}
REFUSED = (401, 403)


def served_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route `app` serves; HEAD rides along with GET."""
    # FastAPI ≥ 0.12x keeps included routers nested: iter_route_contexts flattens them.
    contexts = getattr(fastapi.routing, "iter_route_contexts", None)
    routes = list(contexts(app.routes)) if contexts is not None else app.routes
    return {
        (method, route.path)
        for route in routes
        for method in (getattr(route, "methods", None) or ())
        if method != "HEAD"
    }


def _cases() -> Iterator[tuple[str, str, str, Access]]:
    for service, table in ROUTES.items():
        for (method, path), access in table.items():
            yield service, method, path, access


def _url(stack: Stack, service: str, path: str) -> str:
    filled = path.replace(":path}", "}").format(**PATH_VALUES)
    return stack.urls[service] + filled


def _call(stack: Stack, service: str, method: str, path: str, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    with httpx.Client(timeout=10.0, follow_redirects=False) as client:
        return client.request(method, _url(stack, service, path), headers=headers)


@pytest.mark.parametrize("service", sorted(ROUTES))
def test_every_route_served_is_in_the_table_and_every_entry_is_served(
    stack: Stack, service: str
) -> None:
    served = served_routes(stack.apps[service])
    listed = set(ROUTES[service])
    assert served - listed == set(), f"{service}: routes without a scope entry"
    assert listed - served == set(), f"{service}: entries for routes no longer served"


@pytest.mark.parametrize(
    ("service", "method", "path", "access"),
    list(_cases()),
    ids=[f"{service}:{method} {path}" for service, method, path, _ in _cases()],
)
def test_each_route_lets_in_only_whom_the_table_names(
    stack: Stack, service: str, method: str, path: str, access: Access
) -> None:
    def status(token: str | None) -> int:
        return _call(stack, service, method, path, token).status_code

    if isinstance(access, Scoped):
        assert status(None) == 401
        assert status("not-a-token-of-ours-0123456789") == 401
        assert status(TENANT_TOKEN) == 401
        assert status(LACKING[access.scope]) == 403
        assert status(TOKEN_OF[access.scope]) not in REFUSED
        assert status(ADMIN_TOKEN) not in REFUSED
    elif isinstance(access, Console):
        anonymous = _call(stack, service, method, path, None)
        if method == "GET":
            assert anonymous.status_code == 303
            assert anonymous.headers["location"] == "/console/login"
        else:
            assert anonymous.status_code == 401
        assert status("not-a-token-of-ours-0123456789") in (303, 401)
        assert status(LACKING[access.scope]) == 403
        assert status(TOKEN_OF[access.scope]) not in (*REFUSED, 303)
        assert status(ADMIN_TOKEN) not in (*REFUSED, 303)
    elif isinstance(access, Tenant):
        assert status(None) == 401
        assert status(ADMIN_TOKEN) == 401
        assert status(TENANT_TOKEN) not in REFUSED
    elif access.refused is not None:
        assert status(None) == access.refused
        assert status(ADMIN_TOKEN) == access.refused
    else:
        assert status(None) not in REFUSED
