"""A faithful WeCom group robot server: key, msgtype, size limits (40058), 20/min (45009)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import orjson
from fastapi import FastAPI, Request

from notifiers.budget import ROBOT_LIMIT, ROBOT_WINDOW_S, SlidingWindowBudget
from smsplatform.clock import Clock, system_clock
from smsplatform.http.responses import JsonResponse
from testbench.fakes.inbox import Inbox, Received

# msgtype → (content field, byte limit) (WIRE.md §2, §7.5).
CONTENT_LIMITS: Final = {"text": 2048, "markdown": 4096, "markdown_v2": 4096}


def wecom_error(errcode: int, text: str) -> JsonResponse:
    """A WeCom error answer (HTTP 200), `errmsg` in the service's hint / more-info form."""
    errmsg = (
        f"{text}, hint: [fake-{errcode}], from ip: 127.0.0.1, "
        f"more info at https://open.work.weixin.qq.com/devtool/query?e={errcode}"
    )
    return JsonResponse({"errcode": errcode, "errmsg": errmsg})


def content_refusal(msgtype: Any, message: dict[str, Any]) -> JsonResponse | None:
    """40008 for an unknown msgtype, 40058 for a missing or over-long content."""
    if msgtype not in CONTENT_LIMITS:
        return wecom_error(40008, "invalid message type")
    section = message.get(msgtype)
    content = section.get("content") if isinstance(section, dict) else None
    if not isinstance(content, str) or not content:
        return wecom_error(40058, f"{msgtype}.content is empty. invalid Request Parameter")
    limit = CONTENT_LIMITS[msgtype]
    if len(content.encode()) > limit:
        return wecom_error(
            40058, f"{msgtype}.content exceed max length {limit}. invalid Request Parameter"
        )
    return None


class WeComRobotFake:
    """Robots by webhook key; accepted messages go to `inbox`."""

    def __init__(self, keys: Sequence[str], clock: Clock = system_clock) -> None:
        self._clock = clock
        self.windows = {
            key: SlidingWindowBudget(ROBOT_LIMIT, ROBOT_WINDOW_S, clock) for key in keys
        }
        self.inbox = Inbox()
        self.app = FastAPI(title="fake WeCom robot")
        self.inbox.install(self.app)
        self.app.post("/cgi-bin/webhook/send")(self._send)

    async def _send(self, request: Request) -> JsonResponse:
        key = request.query_params.get("key", "")
        window = self.windows.get(key)
        if window is None:
            return wecom_error(93000, "invalid webhook url")
        try:
            message = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return wecom_error(40058, "invalid json. invalid Request Parameter")
        if not isinstance(message, dict):
            return wecom_error(40058, "invalid json. invalid Request Parameter")
        refusal = content_refusal(message.get("msgtype"), message)
        if refusal is not None:
            return refusal
        # A sliding minute; the 21st send is refused, with no block beyond the window (§7.6).
        if not window.take():
            return wecom_error(45009, "api freq out of limit")
        self.inbox.add(Received(key, self._clock.now(), message))
        return JsonResponse({"errcode": 0, "errmsg": "ok"})
