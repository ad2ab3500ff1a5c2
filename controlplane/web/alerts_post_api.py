"""Alertmanager's alert API on the control plane: POST /api/v2/alerts, the same JSON body.

So Prometheus (or anything that posts to Alertmanager) can point at smsctl unchanged: the
handler decodes, validates and hands the alerts to the alerting stage, which groups them exactly
as it groups the rule engine's. Posted alerts are also kept in storage (saved in the background),
so the alerts API serves them with their history and a restart takes the firing ones back.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from controlplane.alerting.pipeline.posted import (
    MalformedBody,
    PostableAlert,
    decode_alerts,
    to_grouped,
)
from controlplane.service import ControlPlane
from controlplane.web.security import require_scope
from smsplatform.http.body_limit import OversizedBody, read_capped
from smsplatform.http.errors import ApiError
from smsplatform.http.openapi_bodies import msgspec_schema, request_body
from smsplatform.http.responses import JsonResponse
from smsplatform.http.tokens import Principal

router = APIRouter()
KIND = "alerts"  # the label of the accepted/rejected event counters
ALERTS_BODY = request_body({"application/json": msgspec_schema(list[PostableAlert])})


@router.post("/api/v2/alerts", openapi_extra=ALERTS_BODY)
async def post_alerts(
    request: Request, _: Annotated[Principal, Depends(require_scope("ingest"))]
) -> JsonResponse:
    service: ControlPlane = request.app.state.service
    alerting = service.alerting
    if alerting is None:  # the router is only mounted with alerting configured
        raise ApiError(404, "alerting is not configured")
    metrics = service.metrics
    try:
        body = await read_capped(request, service.settings.ingest.max_body_bytes)
        posted = decode_alerts(body)
    except OversizedBody:
        metrics.events_rejected.labels(KIND, "too_large").inc()
        raise
    except MalformedBody as bad:
        metrics.events_rejected.labels(KIND, "invalid").inc()
        raise ApiError(400, "invalid alerts", field=bad.field, detail=bad.detail) from None
    batch = to_grouped(posted, service.clock.now(), alerting.config.resolve_timeout_s)
    # Valid alerts are taken even when others in the batch are not, as Alertmanager does.
    alerting.stage.receive_posted(batch.alerts)
    metrics.events_accepted.labels(KIND).inc(len(batch.alerts))
    if batch.problems:
        metrics.events_rejected.labels(KIND, "invalid").inc(len(batch.problems))
        first = batch.problems[0]
        raise ApiError(
            400,
            "invalid alerts",
            field=first.field,
            detail=first.detail,
            problems=[problem.to_json() for problem in batch.problems],
            accepted=len(batch.alerts),
        )
    return JsonResponse(
        {"accepted": len(batch.alerts), "firing": batch.firing, "resolved": batch.resolved}
    )
