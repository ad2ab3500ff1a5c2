"""The page an acknowledgement link opens: a GET shows what it would stop, its form's POST acks.

Link unfurlers, mail scanners and chat previews fetch every link they see, so a GET changes
nothing. The signed link itself is the credential (no login): the page's form carries its signed
fields back, and a form posted from another site is refused.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse

from controlplane.alerting.escalation import (
    AckLinks,
    Acknowledgements,
    LinkRefused,
    NothingToAck,
    SignedLink,
)
from controlplane.alerting.escalation.links import LINK_PATH
from controlplane.web.console.access import ConsoleRefused, check_same_origin
from controlplane.web.console.pages import TEMPLATES
from smsplatform.http.body_limit import read_capped
from smsplatform.http.errors import ApiError

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)

LINK_FIELDS = ("g", "e", "exp", "sig")
MAX_FORM_BYTES = 16 * 1024
# The page's address holds the credential: not cached, and not sent on as a Referer.
PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def _verified(request: Request, fields: dict[str, str]) -> SignedLink:
    links: AckLinks | None = request.app.state.ack_links
    if links is None:
        raise ApiError(404, "acknowledgement links are off here", field="e")
    try:
        return links.verify(*(fields.get(name, "") for name in LINK_FIELDS))
    except LinkRefused as exc:
        log.warning("escalation.link_refused field=%s reason=%s", exc.field, exc)
        raise ApiError(403, str(exc), field=exc.field) from None


def _acks(request: Request) -> Acknowledgements:
    acks: Acknowledgements = request.app.state.acknowledgements
    return acks


def _page(**context: Any) -> HTMLResponse:
    page = TEMPLATES.get_template("ack_link.html").render(principal=None, **context)
    return HTMLResponse(page, headers=PRIVATE)


@router.get(LINK_PATH)
async def confirmation_page(request: Request) -> HTMLResponse:
    """What the link would acknowledge, and the button that does it."""
    fields = dict(request.query_params)
    link = _verified(request, fields)
    episode = await asyncio.to_thread(_acks(request).episode, link.episode_id)
    if episode is None or episode.group_key != link.group_key:
        raise ApiError(404, f"no escalation episode {link.episode_id} of that group", field="e")
    form = {name: fields[name] for name in LINK_FIELDS}
    return _page(group_key=link.group_key, episode=episode, form=form, acked=None)


@router.post(LINK_PATH)
async def acknowledge(request: Request) -> HTMLResponse:
    """The confirmation page's button: acknowledges the link's episode, and no other."""
    try:
        check_same_origin(request)
    except ConsoleRefused as exc:
        raise ApiError(exc.status, exc.reason, field="origin") from None
    body = await read_capped(request, MAX_FORM_BYTES)
    link = _verified(request, dict(parse_qsl(body.decode(errors="replace"))))
    try:
        result = await asyncio.to_thread(
            _acks(request).ack_episode, link.episode_id, link.group_key, "link", "link"
        )
    except NothingToAck as exc:
        raise ApiError(404, str(exc), field="e") from None
    return _page(group_key=link.group_key, episode=None, form={}, acked=bool(result.group_keys))
