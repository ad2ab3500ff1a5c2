"""Acknowledgement over HTTP by an operator: of an alert, or of a group.

Signed links are served by the console (controlplane.web.console.ack_link), voice key presses
by the voice callback (voice_callback).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request

from controlplane.alerting.escalation.acks import (
    VIA_CHOICES,
    Acknowledgements,
    AckResult,
    NothingToAck,
    Via,
)
from controlplane.web.security import require_scope
from smsplatform.http.errors import ApiError
from smsplatform.http.openapi_bodies import request_body
from smsplatform.http.responses import JsonResponse
from smsplatform.http.tokens import Principal

router = APIRouter()
Operator = Annotated[Principal, Depends(require_scope("operator"))]
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
