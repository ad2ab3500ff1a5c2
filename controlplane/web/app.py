"""Builds the control plane's FastAPI application around a ControlPlane service."""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from controlplane.alerting.escalation import api as ack_api
from controlplane.alerting.escalation import voice_callback
from controlplane.alerting.pipeline import silences_api
from controlplane.service import ControlPlane
from controlplane.web import (
    alerts_post_api,
    console,
    degradation_api,
    ingest,
    ops,
    routing_api,
    rules_api,
)
from controlplane.web.console import ack_link
from smsplatform.http.body_limit import BodyLimitMiddleware
from smsplatform.http.errors import install_error_handlers
from smsplatform.http.request_metrics import RequestMetricsMiddleware


def create_app(service: ControlPlane) -> FastAPI:
    """The HTTP app; its lifespan starts the service and, on shutdown, drains it to storage."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await service.start()
        loop = asyncio.get_running_loop()
        reloads: set[asyncio.Task[object]] = set()

        def reload_on_sighup() -> None:
            task = loop.create_task(service.rules.reload())
            reloads.add(task)
            task.add_done_callback(reloads.discard)

        if threading.current_thread() is threading.main_thread():
            loop.add_signal_handler(signal.SIGHUP, reload_on_sighup)
        try:
            yield
        finally:
            if threading.current_thread() is threading.main_thread():
                loop.remove_signal_handler(signal.SIGHUP)
            await service.stop()

    app = FastAPI(title="smsctl control plane", lifespan=lifespan)
    app.state.service = service
    app.state.tokens = service.tokens.registry
    install_error_handlers(app)
    app.include_router(ops.router)
    app.include_router(ingest.router)
    app.include_router(rules_api.router)
    app.include_router(routing_api.router)
    app.include_router(degradation_api.router)
    app.include_router(console.router)
    if service.alerting is not None:
        app.state.clock = service.clock
        app.state.silences = service.alerting.silences
        app.state.acknowledgements = service.alerting.acknowledgements
        app.state.ack_links = service.alerting.ack_links
        app.state.voice_callback_token = service.alerting.voice_callback_token
        app.include_router(silences_api.router)
        app.include_router(ack_api.router)
        app.include_router(ack_link.router)
        app.include_router(voice_callback.router)
        app.include_router(alerts_post_api.router)
    # The largest body any route takes; routes cap theirs lower (console forms, ack bodies).
    app.add_middleware(BodyLimitMiddleware, max_bytes=service.settings.ingest.max_body_bytes)
    app.add_middleware(RequestMetricsMiddleware, metrics=service.metrics)
    return app
