"""Request bodies capped while they stream: refused with 413 as soon as they pass the cap.

A body is never read in full before its size is checked: a chunked upload (no Content-Length)
of any size costs at most the cap in memory, and the rest is never read. `read_capped` is for
handlers that read the body themselves; `BodyLimitMiddleware` caps every body an app reads,
including those FastAPI reads for a handler's pydantic parameters.
"""

from __future__ import annotations

from fastapi import Request
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class OversizedBody(HTTPException):
    """413: the body is (or says it is) larger than `limit` bytes.

    An HTTPException, so that FastAPI passes it on unchanged when it is raised while FastAPI
    reads a body for a handler (other errors there become a 400).
    """

    def __init__(self, limit: int) -> None:
        super().__init__(413, "body too large")
        self.limit = limit
        self.body = {"error": "body too large", "field": "body", "limit_bytes": limit}


async def read_capped(request: Request, limit: int) -> bytes:
    """The whole body, or OversizedBody once more than `limit` bytes have arrived."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise OversizedBody(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise OversizedBody(limit)
        chunks.append(chunk)
    return b"".join(chunks)


class BodyLimitMiddleware:
    """Caps every request body of an app at `max_bytes` as it streams in: past the cap, the
    app's next read raises OversizedBody, which the app's error handlers answer with 413."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self._app = app
        self._max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        limit = self._max_bytes
        received = 0

        async def capped_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise OversizedBody(limit)
            return message

        await self._app(scope, capped_receive, send)
