"""A small real HTTP server on a free port that records requests and answers like a supplier."""

from __future__ import annotations

import asyncio
import socket
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


@dataclass(frozen=True)
class Recorded:
    """One request as the server received it."""

    method: str
    path: str
    query: str
    headers: dict[str, str]  # names lower-cased
    body: bytes

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode(), keep_blank_values=True))

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    content_type: str = "application/json"


def json_reply(status: int, payload: Any, **headers: str) -> Reply:
    return Reply(status, orjson.dumps(payload), dict(headers))


class SupplierReceiver:
    """Answers each request with the next scripted reply (or the default), recording them all."""

    def __init__(self, default: Reply) -> None:
        self.default = default
        self.requests: list[Recorded] = []
        self.max_in_flight = 0
        self._scripted: deque[Reply] = deque()
        self._in_flight = 0
        self._released = asyncio.Event()
        self.base_url = ""

    def reset(self, default: Reply | None = None) -> None:
        """Forget recorded requests and scripted replies; let any held request go."""
        self.default = default or Reply()
        self.requests.clear()
        self._scripted.clear()
        self._released.set()
        self._released = asyncio.Event()
        self.max_in_flight = self._in_flight

    def answer_next(self, *replies: Reply) -> None:
        self._scripted.extend(replies)

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        self.requests.append(
            Recorded(
                request.method,
                request.url.path,
                request.url.query,
                {k.lower(): v for k, v in request.headers.items()},
                body,
            )
        )
        reply = self._scripted.popleft() if self._scripted else self.default
        self._in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self._in_flight)
        released = self._released
        try:
            if reply.delay_s:
                # Released early on reset or stop, so a hung request never delays the next test.
                with suppress(TimeoutError):
                    await asyncio.wait_for(released.wait(), reply.delay_s)
        finally:
            self._in_flight -= 1
        return Response(
            reply.body, reply.status, headers=reply.headers, media_type=reply.content_type
        )

    def release(self) -> None:
        self._released.set()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def running_receiver(default: Reply | None = None) -> AsyncIterator[SupplierReceiver]:
    """A receiver served by uvicorn on 127.0.0.1 in this event loop, stopped on exit."""
    receiver = SupplierReceiver(default or Reply())
    app = Starlette(routes=[Route("/{path:path}", receiver.handle, methods=["GET", "POST"])])
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_config=None, access_log=False, lifespan="off"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.005)
    port = server.servers[0].sockets[0].getsockname()[1]
    receiver.base_url = f"http://127.0.0.1:{port}"
    try:
        yield receiver
    finally:
        receiver.release()
        server.should_exit = True
        await task
