"""HTTP plumbing the dialect routers share: parameters, pacing, phone formats, outage answers."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any, Final
from urllib.parse import parse_qsl

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from testbench.simulators.engine import SimulatorEngine

CHINA_TIME: Final = timezone(timedelta(hours=8))
# Paths that keep answering during outages, so tests and operators can steer the simulator.
CONTROL_PREFIXES: Final = ("/_sim", "/healthz", "/metrics")
_MAINLAND: Final = re.compile(r"1[3-9][0-9]{9}")


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status, headers, media_type="application/json")


async def form_params(request: Request) -> list[tuple[str, str]]:
    """Query parameters, then form-body parameters (urlencoded), in arrival order."""
    pairs = parse_qsl(request.url.query, keep_blank_values=True)
    content_type = request.headers.get("content-type", "")
    if request.method == "POST" and content_type.startswith("application/x-www-form-urlencoded"):
        body = (await request.body()).decode("utf-8", errors="replace")
        pairs += parse_qsl(body, keep_blank_values=True)
    return pairs


async def paced(engine: SimulatorEngine, handle: Callable[[], Response]) -> Response:
    """Run `handle` as the plan paces it: after its latency, or hung past the client's timeout.

    A timed-out request that the plan says is not sent is never handled; one that is sent is
    handled at once (the supplier got it) and answered only after the hang.
    """
    pacing = engine.pacing()
    response = handle() if pacing.processed else None
    if pacing.delay_s > 0:
        await asyncio.sleep(pacing.delay_s)
    return response if response is not None else gateway_timeout()


def gateway_timeout() -> Response:
    return Response(b"upstream timed out", 504, media_type="text/plain")


def mainland_e164(raw: str) -> str | None:
    """A mainland mobile as `+86…`, from 11 digits with an optional +86/0086/86 prefix."""
    number = raw.strip()
    for prefix in ("+86", "0086", "86"):
        if number.startswith(prefix) and len(number) == len(prefix) + 11:
            number = number[len(prefix) :]
            break
    return f"+86{number}" if _MAINLAND.fullmatch(number) else None


def china_time(at: datetime, pattern: str = "%Y-%m-%d %H:%M:%S") -> str:
    """A time as Chinese suppliers write it: UTC+8, no zone."""
    return at.astimezone(CHINA_TIME).strftime(pattern)


class OutageMiddleware:
    """Answers every supplier API request during http_503 / connect_refused / timeout outages.

    `connect_refused` is really refused only when served by `running_simulator` (its protocol
    drops the connection); an in-process app can only answer it like http_503.
    """

    def __init__(
        self,
        app: ASGIApp,
        engine: SimulatorEngine,
        unavailable: Callable[[], Response],
    ) -> None:
        self._app = app
        self._engine = engine
        self._unavailable = unavailable

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope["path"]).startswith(CONTROL_PREFIXES):
            await self._app(scope, receive, send)
            return
        mode = self._engine.outage()
        if mode in ("http_503", "connect_refused"):
            await self._unavailable()(scope, receive, send)
        elif mode == "timeout":
            await asyncio.sleep(self._engine.plan.submit.timeout_hang_ms / 1000.0)
            await gateway_timeout()(scope, receive, send)
        else:
            await self._app(scope, receive, send)
