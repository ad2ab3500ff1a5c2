"""Acknowledgement over HTTP: by alert or group (operator), by signed link, by voice key press."""

from __future__ import annotations

import asyncio
import html
import logging
from typing import Annotated, Any

import msgspec
import orjson
from fastapi import APIRouter, Depends, Request
from starlette.responses import HTMLResponse

from controlplane.alerting.escalation.acks import (
    VIA_CHOICES,
    Acknowledgements,
    AckResult,
    NothingToAck,
    Via,
)
from controlplane.alerting.escalation.links import AckLinks, LinkRefused
from controlplane.alerting.escalation.redial import CallEnded
from controlplane.auth import Principal
from controlplane.contracts import NESTED_TOO_DEEPLY
from controlplane.web.errors import ApiError
from controlplane.web.openapi_bodies import msgspec_schema, request_body
from controlplane.web.responses import JsonResponse
from controlplane.web.security import require_scope
from notifiers.voice import FINAL_STATUS

log = logging.getLogger(__name__)

router = APIRouter()
Operator = Annotated[Principal, Depends(require_scope("operator"))]

DTMF_STATUS = "300000"
ACK_KEY = "1"  # "press 1 to acknowledge": our product rule, WIRE.md §7.11


class VoiceCallReport(msgspec.Struct, forbid_unknown_fields=False):
    """One record of a Dyvms receipt push; final VoiceReport records share these fields."""

    call_id: str = ""
    status_code: str | int = ""
    out_id: str | None = None
    dtmf: str | None = None
    callee: str = ""  # final records only
    status_msg: str = ""  # final records only


_voice_reports = msgspec.json.Decoder(list[VoiceCallReport])
VOICE_BODY = request_body({"application/json": msgspec_schema(list[VoiceCallReport])})
# Optional: the CLI and the console say who they are; an empty body means `api`.
ACK_BODY = request_body(
    {
        "application/json": {
            "type": "object",
            "properties": {"via": {"enum": list(VIA_CHOICES), "default": "api"}},
        }
    },
    required=False,
)


def _acks(request: Request) -> Acknowledgements:
    acks: Acknowledgements = request.app.state.acknowledgements
    return acks


def _result_json(result: AckResult) -> dict[str, Any]:
    return {
        "acked_at": result.acked_at.isoformat(),
        "by": result.by,
        "via": result.via,
        "groups": list(result.group_keys),
        "fingerprints": list(result.fingerprints),
    }


async def _via(request: Request) -> Via:
    """`via` from an optional JSON body: the CLI and the console say who they are."""
    body = await request.body()
    if not body.strip():
        return "api"
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ApiError(422, "body must be JSON", field="body") from None
    via = parsed.get("via", "api") if isinstance(parsed, dict) else None
    if via not in VIA_CHOICES:
        raise ApiError(422, f"via must be one of {', '.join(VIA_CHOICES)}", field="via")
    result: Via = via
    return result


@router.post("/v1/alerts/{fingerprint}/ack", openapi_extra=ACK_BODY)
async def ack_alert(request: Request, fingerprint: str, principal: Operator) -> JsonResponse:
    via = await _via(request)
    try:
        result = await asyncio.to_thread(_acks(request).ack_alert, fingerprint, principal.name, via)
    except NothingToAck as exc:
        raise ApiError(404, str(exc), field="fingerprint") from None
    return JsonResponse(_result_json(result))


@router.post("/v1/groups/{group_key:path}/ack", openapi_extra=ACK_BODY)
async def ack_group(request: Request, group_key: str, principal: Operator) -> JsonResponse:
    via = await _via(request)
    try:
        result = await asyncio.to_thread(_acks(request).ack_group, group_key, principal.name, via)
    except NothingToAck as exc:
        raise ApiError(404, str(exc), field="group_key") from None
    return JsonResponse(_result_json(result))


@router.get("/v1/ack")
async def ack_by_link(request: Request, g: str = "", exp: str = "", sig: str = "") -> HTMLResponse:
    """The link in a DingTalk/WeCom message: the signature is the credential, no token needed."""
    links: AckLinks = request.app.state.ack_links
    try:
        links.verify(g, exp, sig)
    except LinkRefused as exc:
        log.warning("escalation.link_refused field=%s reason=%s", exc.field, exc)
        raise ApiError(403, str(exc), field=exc.field) from None
    try:
        result = await asyncio.to_thread(_acks(request).ack_group, g, "link", "link")
    except NothingToAck as exc:
        raise ApiError(404, str(exc), field="g") from None
    said = "Acknowledged" if result.group_keys else "Already acknowledged or resolved"
    page = f"<!doctype html><title>{said}</title><p>{said}: <code>{html.escape(g)}</code></p>"
    return HTMLResponse(page)


@router.post("/v1/callbacks/voice", openapi_extra=VOICE_BODY)
async def voice_callback(request: Request) -> JsonResponse:
    """Dyvms receipt push: a `300000` record with dtmf `1` acknowledges the call's group; a
    final record (VoiceReport) goes into the group's history and may schedule a redial."""
    try:
        reports = _voice_reports.decode(await request.body())
    except msgspec.ValidationError as exc:
        raise ApiError(400, f"not a list of voice reports: {exc}", field="body", code=1) from None
    except msgspec.DecodeError:
        raise ApiError(400, "body must be a JSON array", field="body", code=1) from None
    except RecursionError:  # an unknown field holding [[[[...]]]]: msgspec's limit on nesting
        raise ApiError(400, NESTED_TOO_DEEPLY, field="body", code=1) from None
    acks = _acks(request)
    for report in reports:
        status_code = str(report.status_code)
        try:
            if status_code == DTMF_STATUS and (report.dtmf or "").strip("#*") == ACK_KEY:
                ids = [report.call_id, report.out_id or ""]
                await asyncio.to_thread(acks.ack_call, ids, f"voice:{report.call_id}")
            elif status_code in FINAL_STATUS:
                ended = CallEnded(
                    report.call_id,
                    report.out_id or "",
                    report.callee,
                    status_code,
                    report.status_msg,
                )
                await asyncio.to_thread(acks.call_ended, ended)
        except NothingToAck as exc:
            # Answered 200 anyway: the service would retry a non-200 for ten minutes in vain.
            log.warning("escalation.voice_unknown_call call_id=%s reason=%s", report.call_id, exc)
    return JsonResponse({"code": 0, "msg": "accepted"})
