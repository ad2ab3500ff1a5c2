"""The dispatcher's HTTP face: /healthz, /metrics and the routing table in force."""

from __future__ import annotations

import msgspec
from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import PlainTextResponse

from sendtier.dispatch.dispatcher import Dispatcher
from smsplatform.http.errors import install_error_handlers
from smsplatform.http.health import health_response
from smsplatform.http.request_metrics import RequestMetricsMiddleware
from smsplatform.http.responses import JsonResponse


def create_dispatch_app(dispatcher: Dispatcher) -> FastAPI:
    """The app; it does not start or stop the dispatcher (its owner does)."""
    app = FastAPI(title="smsctl dispatch", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.dispatcher = dispatcher
    install_error_handlers(app)

    @app.get("/healthz")
    async def healthz(request: Request) -> JsonResponse:
        serving = _dispatcher(request)
        return health_response(await serving.health(), serving.consumers)

    @app.get("/metrics", response_class=PlainTextResponse)
    async def metrics(request: Request) -> Response:
        serving = _dispatcher(request)
        await serving.refresh_metrics()
        return Response(generate_latest(serving.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/v1/routing")
    async def routing(request: Request) -> JsonResponse:
        return JsonResponse(msgspec.to_builtins(_dispatcher(request).routing_table))

    app.add_middleware(RequestMetricsMiddleware, metrics=dispatcher.metrics)
    return app


def _dispatcher(request: Request) -> Dispatcher:
    dispatcher: Dispatcher = request.app.state.dispatcher
    return dispatcher
