"""The persistence service's HTTP app: /healthz and /metrics; its lifespan runs the service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import PlainTextResponse

from sendtier.persist.service import PersistService
from smsplatform.http.errors import install_error_handlers
from smsplatform.http.health import health_response
from smsplatform.http.request_metrics import RequestMetricsMiddleware
from smsplatform.http.responses import JsonResponse


def create_persist_app(service: PersistService) -> FastAPI:
    """The HTTP app; its lifespan starts the service and, on shutdown, drains it to storage."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    app = FastAPI(title="sendtier persist", lifespan=lifespan)
    app.state.service = service
    install_error_handlers(app)

    @app.get("/healthz")
    async def healthz(request: Request) -> JsonResponse:
        return health_response(await service.health(), service.consumers)

    @app.get("/metrics", response_class=PlainTextResponse)
    async def metrics(request: Request) -> Response:
        await service.refresh_metrics()
        return Response(generate_latest(service.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.add_middleware(RequestMetricsMiddleware, metrics=service.metrics)
    return app
