"""Builds the control plane's FastAPI application around a ControlPlane service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from controlplane.service import ControlPlane
from controlplane.web import ingest, ops
from controlplane.web.errors import install_error_handlers
from controlplane.web.request_metrics import RequestMetricsMiddleware


def create_app(service: ControlPlane) -> FastAPI:
    """The HTTP app; its lifespan starts the service and, on shutdown, drains it to storage."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    app = FastAPI(title="smsctl control plane", lifespan=lifespan)
    app.state.service = service
    app.state.tokens = service.tokens.registry
    install_error_handlers(app)
    app.include_router(ops.router)
    app.include_router(ingest.router)
    app.add_middleware(RequestMetricsMiddleware, metrics=service.metrics)
    return app
