"""HTTP handlers of the send API: send one, send a batch, a message's life, the templates."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Final

import msgspec
import orjson
from fastapi import APIRouter, Depends, Request, Response

from sendtier.api import idempotency
from sendtier.api.acceptance import Outcome
from sendtier.api.auth import current_tenant
from sendtier.api.bodies import BatchRequest, SendRequest, decode_request
from sendtier.api.refusals import (
    BodyTooLarge,
    InvalidRequest,
    KeyInFlight,
    PartlySent,
    Unavailable,
)
from sendtier.api.service import SendApi
from sendtier.settings import TenantSettings
from smsplatform.contracts import OutboundMessage
from smsplatform.http.body_limit import OversizedBody, read_capped
from smsplatform.http.errors import ApiError
from smsplatform.http.openapi_bodies import header_parameter, msgspec_schema, request_body
from smsplatform.http.responses import JsonResponse

log = logging.getLogger(__name__)
router = APIRouter()

# A full batch (1,000 recipients with their own params) is a few hundred KB.
MAX_BODY_BYTES: Final = 4 * 1024 * 1024
JSON: Final = "application/json"
Tenant = Annotated[TenantSettings, Depends(current_tenant)]
IDEMPOTENCY_KEY = header_parameter(
    idempotency.HEADER, "1 to 128 printable ASCII characters: retries under it send once"
)
SEND_BODY = {
    **request_body({JSON: msgspec_schema(SendRequest)}),
    "parameters": [IDEMPOTENCY_KEY],
}
BATCH_BODY = {
    **request_body({JSON: msgspec_schema(BatchRequest)}),
    "parameters": [IDEMPOTENCY_KEY],
}
Send = Callable[[], Awaitable[Outcome]]
Render = Callable[[Outcome], dict[str, Any]]


def send_api(request: Request) -> SendApi:
    api: SendApi = request.app.state.api
    return api


async def read_body(request: Request) -> bytes:
    """The body, read as it streams: refused once past MAX_BODY_BYTES, the rest left unread."""
    try:
        return await read_capped(request, MAX_BODY_BYTES)
    except OversizedBody:
        raise BodyTooLarge("body too large", None, limit_bytes=MAX_BODY_BYTES) from None


@router.post("/v1/messages", status_code=202, openapi_extra=SEND_BODY)
async def send_message(request: Request, tenant: Tenant) -> Response:
    api = send_api(request)
    started = time.perf_counter()
    try:
        body = await read_body(request)

        async def send() -> Outcome:
            return await api.acceptor.send(tenant, decode_request(SendRequest, body))

        return await _idempotent(api, tenant, request, body, send, _one_answer)
    finally:
        api.metrics.accept_seconds.labels("/v1/messages").observe(time.perf_counter() - started)


@router.post("/v1/messages/batch", status_code=202, openapi_extra=BATCH_BODY)
async def send_batch(request: Request, tenant: Tenant) -> Response:
    api = send_api(request)
    started = time.perf_counter()
    try:
        body = await read_body(request)

        async def send() -> Outcome:
            return await api.acceptor.send_batch(tenant, decode_request(BatchRequest, body))

        return await _idempotent(api, tenant, request, body, send, _batch_answer)
    finally:
        elapsed = time.perf_counter() - started
        api.metrics.accept_seconds.labels("/v1/messages/batch").observe(elapsed)


@router.get("/v1/messages/{message_id}")
async def message_life(message_id: str, request: Request, tenant: Tenant) -> JsonResponse:
    """The message's life. Persistence stores a message a moment after the API accepted it, so
    a just-accepted id answers 404 for that moment (typically well under a second)."""
    life = await asyncio.to_thread(send_api(request).status.find, tenant.name, message_id)
    if life is None:
        raise ApiError(404, f"no message {message_id!r} (yet)", field="message_id")
    return JsonResponse(life)


@router.get("/v1/templates")
async def templates(request: Request, tenant: Tenant) -> JsonResponse:
    """The templates the tenant may send, with their parameter names."""
    usable = send_api(request).acceptor.templates.for_tenant(tenant.name)
    return JsonResponse(
        {
            "templates": [
                {
                    "id": t.id,
                    "message_class": t.message_class,
                    "text": t.text,
                    "params": list(t.params),
                }
                for t in usable
            ],
            "signatures": tenant.signatures,
        }
    )


def _accepted(message: OutboundMessage) -> dict[str, Any]:
    return {
        "message_id": message.message_id,
        "phone": message.phone,
        "carrier": message.carrier,
        "message_class": message.message_class,
        "segments": message.segments,
    }


def _one_answer(outcome: Outcome) -> dict[str, Any]:
    return _accepted(outcome.accepted[0][1])


def _batch_answer(outcome: Outcome) -> dict[str, Any]:
    messages = [{"index": i, **_accepted(m)} for i, m in outcome.accepted]
    rejected = [r.body() for r in outcome.rejected]
    return {"accepted": len(messages), "messages": messages, "rejected": rejected}


async def _idempotent(
    api: SendApi, tenant: TenantSettings, request: Request, body: bytes, send: Send, render: Render
) -> Response:
    """Run `send` once per Idempotency-Key: retries get the first 202 and its body again.

    Refusals (422, 429, 503 with nothing sent) are not kept: the key is released and a retry is
    judged anew. A send the bus took only part of keeps the key, with what it still owes: it
    answers 503, and a retry under the key publishes only the rest.
    """
    key = request.headers.get(idempotency.HEADER)
    if key is None:
        outcome = await send()
        if outcome.shortfall is not None:
            shortfall = outcome.shortfall
            raise PartlySent(len(shortfall.unpublished), shortfall.total, shortfall.sent)
        return Response(orjson.dumps(render(outcome)), 202, media_type=JSON)
    if not idempotency.valid_key(key):
        raise InvalidRequest("1 to 128 printable ASCII characters expected", idempotency.HEADER)
    keys = api.idempotency
    request_fingerprint = idempotency.fingerprint(request.url.path, body)
    try:
        claim = await keys.claim(tenant.name, key, request_fingerprint)
    except Exception as exc:
        log.warning("api.idempotency_claim_failed tenant=%s error=%s", tenant.name, exc)
        raise Unavailable("cannot check the Idempotency-Key now", idempotency.HEADER) from None
    if isinstance(claim, idempotency.Replay):
        headers = {"Idempotent-Replayed": "true"}
        return Response(claim.body, claim.status_code, headers=headers, media_type=JSON)
    if isinstance(claim, idempotency.Owed):
        return await _pay_owed(api, tenant.name, key, claim.send)
    if isinstance(claim, idempotency.InFlight):
        raise KeyInFlight("the first request with this key is still in flight", idempotency.HEADER)
    if isinstance(claim, idempotency.Reused):
        raise InvalidRequest("this key was used with a different request", idempotency.HEADER)
    try:
        outcome = await send()
    except BaseException:
        await _release(api, tenant.name, key)
        raise
    content = orjson.dumps(render(outcome))
    if outcome.shortfall is not None:
        shortfall = outcome.shortfall
        owed = idempotency.OwedSend(202, content, shortfall.total, shortfall.unpublished)
        await _keep_owed(api, tenant.name, key, owed)
        raise PartlySent(len(shortfall.unpublished), shortfall.total, shortfall.sent)
    return await _complete(api, tenant.name, key, content)


async def _pay_owed(api: SendApi, tenant: str, key: str, owed: idempotency.OwedSend) -> Response:
    """Publish what an earlier send under the key left unconfirmed; then answer as it would."""
    shortfall = await api.acceptor.publish_owed(owed.messages)
    if shortfall is not None:
        still_owed = msgspec.structs.replace(owed, messages=shortfall.unpublished)
        await _keep_owed(api, tenant, key, still_owed)
        unsent = len(shortfall.unpublished)
        # Something of the send is on the bus already (else the key would have been released).
        raise PartlySent(unsent, owed.total, "partly" if unsent < owed.total else "unknown")
    log.info(
        "event=idempotency_owed_paid tenant=%s key=%s messages=%d", tenant, key, len(owed.messages)
    )
    return await _complete(api, tenant, key, owed.answer, owed.status_code)


async def _complete(
    api: SendApi, tenant: str, key: str, content: bytes, status: int = 202
) -> Response:
    try:
        await api.idempotency.complete(tenant, key, status, content)
    except Exception as exc:
        # The messages are on the bus: answer 202. Retries see the claim in flight (409) until
        # it expires, which is better than sending twice.
        log.warning("api.idempotency_complete_failed tenant=%s key=%s error=%s", tenant, key, exc)
    return Response(content, status, media_type=JSON)


async def _keep_owed(api: SendApi, tenant: str, key: str, owed: idempotency.OwedSend) -> None:
    try:
        await api.idempotency.keep_owed(tenant, key, owed)
    except Exception as exc:
        # The claim stays in flight (409 until it expires): the rest is not sent, nor anything
        # twice.
        log.warning("event=idempotency_keep_failed tenant=%s key=%s error=%s", tenant, key, exc)


async def _release(api: SendApi, tenant: str, key: str) -> None:
    try:
        await api.idempotency.release(tenant, key)
    except Exception as exc:
        log.warning("api.idempotency_release_failed tenant=%s key=%s error=%s", tenant, key, exc)
