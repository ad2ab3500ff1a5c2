"""ASGI middleware counting HTTP requests by route template and status code."""

from __future__ import annotations

from typing import Protocol

from prometheus_client import Counter
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HttpRequestMetrics(Protocol):
    """Any service's metrics with a requests counter labelled (route, code)."""

    @property
    def http_requests(self) -> Counter: ...


class RequestMetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: HttpRequestMetrics) -> None:
        self._app = app
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        status = 500

        async def remember_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self._app(scope, receive, remember_status)
        finally:
            route = scope.get("route")
            # The template, not the path: keeps label cardinality bounded.
            template = getattr(route, "path", "unmatched")
            self._metrics.http_requests.labels(template, str(status)).inc()
