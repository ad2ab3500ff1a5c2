"""HTTP ingest of events: validate a whole batch, publish it, answer 202 once the bus holds it."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Depends, Path, Request

from controlplane.ingest.batches import BadEvent, decode_body
from controlplane.ingest.publisher import BusUnavailable
from controlplane.service import ControlPlane
from controlplane.web.security import require_scope
from smsplatform.contracts import EVENT_KINDS, Receipt
from smsplatform.http.body_limit import OversizedBody, read_capped
from smsplatform.http.errors import ApiError
from smsplatform.http.openapi_bodies import msgspec_schema, request_body
from smsplatform.http.responses import JsonResponse
from smsplatform.http.tokens import Principal

router = APIRouter()
# What a client is asked to wait before retrying a batch the bus did not take.
RETRY_AFTER_S = 5

# One event, a JSON array of them, or NDJSON (one per line) of the kind the path names.
_EVENT_SCHEMAS = [msgspec_schema(event_type) for event_type, _ in EVENT_KINDS.values()]
EVENTS_BODY = request_body(
    {
        "application/json": {
            "anyOf": [*_EVENT_SCHEMAS, *({"type": "array", "items": s} for s in _EVENT_SCHEMAS)]
        },
        "application/x-ndjson": {"type": "string", "description": "one JSON event per line"},
    },
    description="Events of the kind in the path: receipts, submits, logs or probes.",
)


@router.post("/v1/events/{kind}", status_code=202, openapi_extra=EVENTS_BODY)
async def ingest_events(
    kind: Annotated[str, Path(json_schema_extra={"enum": sorted(EVENT_KINDS)})],
    request: Request,
    _: Annotated[Principal, Depends(require_scope("ingest"))],
) -> JsonResponse:
    service: ControlPlane = request.app.state.service
    if kind not in EVENT_KINDS:
        raise ApiError(404, f"unknown event kind {kind!r}", kinds=sorted(EVENT_KINDS))
    event_type, subject = EVENT_KINDS[kind]
    metrics = service.metrics
    limits = service.settings.ingest
    try:
        body = await read_capped(request, limits.max_body_bytes)
    except OversizedBody:
        metrics.events_rejected.labels(kind, "too_large").inc()
        raise
    try:
        events: list[Any] = decode_body(event_type, body, request.headers.get("content-type", ""))
    except BadEvent as bad:
        metrics.events_rejected.labels(kind, "invalid").inc()
        raise ApiError(422, "invalid event", **bad.location()) from None
    if len(events) > limits.max_events:
        metrics.events_rejected.labels(kind, "too_many").inc(len(events))
        raise ApiError(413, "too many events in one batch", limit_events=limits.max_events)
    if event_type is Receipt:
        events = _stamp_received_at(events, service)
    try:
        await service.publisher.publish(subject, events)
    except BusUnavailable:
        metrics.events_rejected.labels(kind, "unavailable").inc(len(events))
        raise ApiError(
            503,
            "the bus is not taking events now: retry the batch (a retried batch is stored once)",
            headers={"Retry-After": str(RETRY_AFTER_S)},
            retry_after_s=RETRY_AFTER_S,
        ) from None
    metrics.events_accepted.labels(kind).inc(len(events))
    return JsonResponse({"accepted": len(events)}, status_code=202)


def _stamp_received_at(receipts: list[Receipt], service: ControlPlane) -> list[Receipt]:
    now = service.clock.now()
    replace = msgspec.structs.replace
    return [r if r.received_at is not None else replace(r, received_at=now) for r in receipts]
