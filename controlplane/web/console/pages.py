"""The console's pages: alerts in force, one alert's history, acknowledgement, the fakes' inbox.

Plain server-rendered HTML and forms. Handlers validate and delegate: alerts come from the code
GET /v1/alerts serves, acks go through the same Acknowledgements the API uses (via "console").
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Request
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.responses import HTMLResponse, RedirectResponse, Response

from controlplane.alerting.escalation import EscalationStore, NothingToAck
from controlplane.service import ControlPlane
from controlplane.web.console.access import (
    ACK_SCOPE,
    COOKIE,
    READ_SCOPE,
    ConsoleRefused,
    authorize,
    check_same_origin,
)
from controlplane.web.console.inboxes import running_fakes
from controlplane.web.rules_api import alert_with_history, alerts_in_force
from smsplatform.http.body_limit import read_capped

router = APIRouter(prefix="/console", include_in_schema=False)

# Autoescape on: labels, annotations and fake inboxes carry text from outside.
TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=StrictUndefined,
)
TEMPLATES.filters["pretty_json"] = lambda value: json.dumps(
    value, ensure_ascii=False, indent=2, default=str
)
SHOWN_STATES = ("firing", "pending")
MAX_FORM_BYTES = 16 * 1024
HOME, LOGIN = "/console", "/console/login"


def _page(template: str, status: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(TEMPLATES.get_template(template).render(**context), status_code=status)


def _refused(exc: ConsoleRefused, *, reading: bool) -> Response:
    """A reader without a token is sent to log in; a write is refused outright."""
    if exc.status == 401 and reading:
        return RedirectResponse(LOGIN, status_code=303)
    return _page("error.html", exc.status, message=exc.reason, principal=None)


def _service(request: Request) -> ControlPlane:
    service: ControlPlane = request.app.state.service
    return service


async def _form(request: Request) -> dict[str, str]:
    # urllib, not request.form(): python-multipart is not a dependency.
    body = await read_capped(request, MAX_FORM_BYTES)
    return dict(parse_qsl(body.decode(), keep_blank_values=True))


@router.get("/login")
async def login_form() -> HTMLResponse:
    return _page("login.html", error=None, principal=None)


@router.post("/login")
async def login(request: Request) -> Response:
    """Checks the token and keeps it in an HttpOnly, SameSite=Strict cookie for the console."""
    try:
        check_same_origin(request)
    except ConsoleRefused as exc:
        return _refused(exc, reading=False)
    token = (await _form(request)).get("token", "").strip()
    if not token or request.app.state.tokens.authenticate(token) is None:
        return _page("login.html", 401, error="that token is not valid", principal=None)
    answer = RedirectResponse(HOME, status_code=303)
    answer.set_cookie(
        COOKIE,
        token,
        path=HOME,
        httponly=True,
        samesite="strict",
        secure=_service(request).settings.server.secure_cookie,
    )
    return answer


@router.post("/logout")
async def logout() -> RedirectResponse:
    answer = RedirectResponse(LOGIN, status_code=303)
    answer.delete_cookie(COOKIE, path=HOME)
    return answer


@router.get("")
async def alerts_page(request: Request, acked: str = "") -> Response:
    try:
        principal = authorize(request, READ_SCOPE)
    except ConsoleRefused as exc:
        return _refused(exc, reading=True)
    service = _service(request)
    alerts = [alert for alert in alerts_in_force(service) if alert["state"] in SHOWN_STATES]
    groups = (
        await asyncio.to_thread(EscalationStore(service.database).active)
        if service.alerting is not None
        else []
    )
    return _page("alerts.html", principal=principal, alerts=alerts, groups=groups, acked=acked)


@router.post("/ack")
async def ack_group(request: Request) -> Response:
    """The Acknowledge button of an escalating group: the API's ack, recorded as via console."""
    try:
        check_same_origin(request)
        principal = authorize(request, ACK_SCOPE)
    except ConsoleRefused as exc:
        return _refused(exc, reading=False)
    alerting = _service(request).alerting
    if alerting is None:
        return _page("error.html", 404, message="alerting is not configured", principal=principal)
    group_key = (await _form(request)).get("group_key", "")
    try:
        await asyncio.to_thread(
            alerting.acknowledgements.ack_group, group_key, principal.name, "console"
        )
    except NothingToAck as exc:
        return _page("error.html", 404, message=str(exc), principal=principal)
    # Post/redirect/get: a reload of the page does not post the ack again.
    return RedirectResponse(f"{HOME}?{urlencode({'acked': group_key})}", status_code=303)


@router.get("/alerts/{fingerprint}")
async def alert_page(request: Request, fingerprint: str) -> Response:
    try:
        principal = authorize(request, READ_SCOPE)
    except ConsoleRefused as exc:
        return _refused(exc, reading=True)
    alert = await alert_with_history(_service(request), fingerprint)
    if alert is None:
        message = f"no alert with fingerprint {fingerprint!r}"
        return _page("error.html", 404, message=message, principal=principal)
    return _page("alert.html", principal=principal, alert=alert)


@router.get("/inbox")
async def inbox_page(request: Request) -> Response:
    try:
        principal = authorize(request, READ_SCOPE)
    except ConsoleRefused as exc:
        return _refused(exc, reading=True)
    return _page("inbox.html", principal=principal, fakes=running_fakes.shown())
