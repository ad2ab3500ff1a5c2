"""Builds the send API's FastAPI app: sends, message status, opt-outs, /healthz and /metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import PlainTextResponse

from sendtier.api import optout_routes, routes
from sendtier.api.refusals import Refusal
from sendtier.api.service import SendApi
from sendtier.settings import SendTierSettings
from sendtier.storage import Database
from smsplatform.bus import Bus
from smsplatform.clock import Clock, system_clock
from smsplatform.http.body_limit import BodyLimitMiddleware
from smsplatform.http.errors import install_error_handlers
from smsplatform.http.request_metrics import RequestMetricsMiddleware
from smsplatform.http.responses import JsonResponse


def create_api_app(
    settings: SendTierSettings, bus: Bus, database: Database, clock: Clock = system_clock
) -> FastAPI:
    """The send API. The caller starts `bus` and migrates `database` before serving and closes
    both after; the app's lifespan loads the opt-out list and runs the API's upkeep."""
    api = SendApi(settings, bus, database, clock)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await api.start()
        try:
            yield
        finally:
            await api.stop()

    app = FastAPI(title="smsctl send API", lifespan=lifespan)
    app.state.api = api
    app.state.tenants = api.tenants
    install_error_handlers(app)

    @app.exception_handler(Refusal)
    async def _refused(_: Request, refusal: Refusal) -> JsonResponse:
        return JsonResponse(refusal.body(), status_code=refusal.status, headers=refusal.headers())

    @app.get("/healthz")
    async def healthz() -> JsonResponse:
        checks = await api.health()
        healthy = all(checks.values())
        body = {"status": "ok" if healthy else "unhealthy", "checks": checks}
        return JsonResponse(body, status_code=200 if healthy else 503)

    @app.get("/metrics", response_class=PlainTextResponse)
    async def metrics() -> Response:
        return Response(generate_latest(api.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.include_router(routes.router)
    app.include_router(optout_routes.router)
    app.add_middleware(BodyLimitMiddleware, max_bytes=routes.MAX_BODY_BYTES)
    app.add_middleware(RequestMetricsMiddleware, metrics=api.metrics)
    return app
