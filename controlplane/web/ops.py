"""Operational endpoints without authentication: /healthz and /metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import PlainTextResponse

from controlplane.service import ControlPlane
from controlplane.web.responses import JsonResponse

router = APIRouter()


@router.get("/healthz")
async def healthz(request: Request) -> JsonResponse:
    service: ControlPlane = request.app.state.service
    checks = await service.health()
    healthy = all(checks.values())
    body = {"status": "ok" if healthy else "unhealthy", "checks": checks}
    return JsonResponse(body, status_code=200 if healthy else 503)


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(request: Request) -> Response:
    service: ControlPlane = request.app.state.service
    await service.persister.refresh_pending()
    return Response(generate_latest(service.metrics.registry), media_type=CONTENT_TYPE_LATEST)
