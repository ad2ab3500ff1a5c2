"""A webhook receiver that records every JSON body it is sent, answering a settable status."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI, Request
from starlette.responses import Response

from smsplatform.clock import Clock, system_clock
from testbench.fakes.inbox import Inbox, Received


class WebhookReceiverFake:
    """Takes POSTs on any path; `raw` keeps the exact bytes, `inbox` the decoded bodies.

    Also stands in for a voice-receipt endpoint: it answers `{"code":0,"msg":"accepted"}`.
    """

    def __init__(self, clock: Clock = system_clock) -> None:
        self._clock = clock
        self.status = 200
        self.raw: list[bytes] = []
        self.headers: list[dict[str, str]] = []
        self.inbox = Inbox()
        self.app = FastAPI(title="fake webhook receiver")
        self.inbox.install(self.app)
        self.app.post("/{path:path}")(self._receive)

    async def _receive(self, path: str, request: Request) -> Response:
        body = await request.body()
        self.raw.append(body)
        self.headers.append({k.lower(): v for k, v in request.headers.items()})
        decoded: Any
        try:
            decoded = orjson.loads(body)
        except orjson.JSONDecodeError:
            decoded = body.decode(errors="replace")
        self.inbox.add(Received(f"/{path}", self._clock.now(), decoded))
        return Response(
            orjson.dumps({"code": 0, "msg": "accepted"}),
            self.status,
            media_type="application/json",
        )
