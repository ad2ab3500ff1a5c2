"""Operational endpoints without authentication: /healthz and /metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import PlainTextResponse

from controlplane.service import ControlPlane
from smsplatform.http.health import health_response
from smsplatform.http.responses import JsonResponse

router = APIRouter()


@router.get("/healthz")
async def healthz(request: Request) -> JsonResponse:
    service: ControlPlane = request.app.state.service
    return health_response(await service.health(), service.consumers)


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(request: Request) -> Response:
    service: ControlPlane = request.app.state.service
    await service.persister.refresh_pending()
    return Response(generate_latest(service.metrics.registry), media_type=CONTENT_TYPE_LATEST)
