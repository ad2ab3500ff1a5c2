"""The voice service's receipt push: authenticated by the deployment's callback token.

Dyvms pushes to the URL set in its console, so the token rides in that URL's query (`?token=`);
a proxy in front may send it as the `X-Callback-Token` header instead. A push without the token
is refused with 401 before its body is read, and changes nothing.
"""

from __future__ import annotations

import asyncio
import hmac
import logging

import msgspec
from fastapi import APIRouter, Request

from controlplane.alerting.escalation.acks import Acknowledgements, NothingToAck
from controlplane.alerting.escalation.redial import CallEnded
from notifiers.voice import FINAL_STATUS
from smsplatform.contracts import NESTED_TOO_DEEPLY
from smsplatform.http.body_limit import read_capped
from smsplatform.http.errors import ApiError
from smsplatform.http.openapi_bodies import msgspec_schema, request_body
from smsplatform.http.responses import JsonResponse

log = logging.getLogger(__name__)

router = APIRouter()

CALLBACK_PATH = "/v1/callbacks/voice"
TOKEN_PARAM = "token"
TOKEN_HEADER = "X-Callback-Token"
# A push holds a few records of a few hundred bytes each: 64 KiB is hundreds of them.
MAX_BODY_BYTES = 64 * 1024
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


def _authenticate(request: Request) -> None:
    """Returns when the request carries the callback token; ApiError 401 otherwise."""
    expected: bytes | None = request.app.state.voice_callback_token
    presented = request.query_params.get(TOKEN_PARAM) or request.headers.get(TOKEN_HEADER)
    # Constant-time: the comparison says nothing about how much of a guess was right.
    if expected is None or presented is None:
        reason = "not_configured" if expected is None else "no_token"
    elif not hmac.compare_digest(presented.encode(), expected):
        reason = "wrong_token"
    else:
        return
    client = request.client.host if request.client is not None else ""
    log.warning("escalation.voice_callback_refused reason=%s client=%s", reason, client)
    raise ApiError(401, "a voice callback needs this deployment's callback token", field="token")


@router.post(CALLBACK_PATH, openapi_extra=VOICE_BODY)
async def voice_callback(request: Request) -> JsonResponse:
    """Dyvms receipt push: a `300000` record with dtmf `1` acknowledges the episode its call
    pages for; a final record (VoiceReport) goes into the episode's history and may schedule a
    redial."""
    _authenticate(request)
    body = await read_capped(request, MAX_BODY_BYTES)
    try:
        reports = _voice_reports.decode(body)
    except msgspec.ValidationError as exc:
        raise ApiError(400, f"not a list of voice reports: {exc}", field="body", code=1) from None
    except msgspec.DecodeError:
        raise ApiError(400, "body must be a JSON array", field="body", code=1) from None
    except RecursionError:  # an unknown field holding [[[[...]]]]: msgspec's limit on nesting
        raise ApiError(400, NESTED_TOO_DEEPLY, field="body", code=1) from None
    acks: Acknowledgements = request.app.state.acknowledgements
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
