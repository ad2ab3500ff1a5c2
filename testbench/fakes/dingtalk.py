"""A faithful DingTalk custom-robot server: token, IP, timestamp, sign, keyword, schema, 20/min."""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson
from fastapi import FastAPI, Request

from notifiers.budget import ROBOT_LIMIT, ROBOT_WINDOW_S, SlidingWindowBudget
from notifiers.dingtalk import dingtalk_signature
from smsplatform.clock import Clock, system_clock
from smsplatform.http.responses import JsonResponse
from testbench.fakes.inbox import Inbox, Received

MAX_SKEW_MS: Final = 3_600_000
BLOCK_S: Final = 600.0  # after the 21st send in a minute, every send is refused for 10 minutes
# Required fields per msgtype (WIRE.md §1 body table).
REQUIRED: Final[dict[str, tuple[str, ...]]] = {
    "text": ("content",),
    "markdown": ("title", "text"),
    "link": ("title", "text", "messageUrl"),
    "actionCard": ("title", "text"),
}
# An actionCard has one button (these fields) or several: `btns` of {title, actionURL}.
SINGLE_BUTTON: Final = ("singleTitle", "singleURL")
BUTTON: Final = ("title", "actionURL")


@dataclass(frozen=True)
class FakeRobot:
    access_token: str
    secret: str | None = None
    keywords: tuple[str, ...] = ()
    allowed_ips: tuple[str, ...] = ()  # addresses or CIDR blocks; empty: any address


@dataclass
class _RobotState:
    robot: FakeRobot
    window: SlidingWindowBudget
    blocked_until: float | None = None


def _answer(errcode: int, errmsg: str) -> JsonResponse:
    # Every answer is HTTP 200: the errcode says what happened (WIRE.md §1).
    return JsonResponse({"errcode": errcode, "errmsg": errmsg})


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


class DingTalkFake:
    """Robots by access token; checks in WIRE.md §7.2 order; accepted messages go to `inbox`."""

    def __init__(self, robots: Sequence[FakeRobot], clock: Clock = system_clock) -> None:
        self._clock = clock
        self.robots = {
            r.access_token: _RobotState(r, SlidingWindowBudget(ROBOT_LIMIT, ROBOT_WINDOW_S, clock))
            for r in robots
        }
        self.inbox = Inbox()
        self.app = FastAPI(title="fake DingTalk")
        self.inbox.install(self.app)
        self.app.post("/robot/send")(self._send)

    def blocked(self, access_token: str) -> bool:
        state = self.robots[access_token]
        return state.blocked_until is not None and self._clock.monotonic() < state.blocked_until

    async def _send(self, request: Request) -> JsonResponse:
        query = request.query_params  # standard decoding: a raw `+` arrives as a space
        state = self.robots.get(query.get("access_token", ""))
        if state is None:
            return _answer(300005, "token is not exist")
        robot = state.robot
        host = request.client.host if request.client else "unknown"
        if robot.allowed_ips and not _ip_allowed(host, robot.allowed_ips):
            return _answer(310000, f"ip {host} not in whitelist")
        if robot.secret is not None:
            refusal = self._check_signature(robot.secret, query.get("timestamp"), query.get("sign"))
            if refusal is not None:
                return refusal
        try:
            message = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return _answer(43004, "invalid json body")
        if not isinstance(message, dict):
            return _answer(43004, "invalid json body")
        msgtype = message.get("msgtype")
        content = message.get(msgtype) if isinstance(msgtype, str) else None
        if robot.keywords and not any(
            word in text for text in _strings(content) for word in robot.keywords
        ):
            return _answer(310000, "keywords not in content")
        refusal = _check_schema(msgtype, content)
        if refusal is not None:
            return refusal
        now = self._clock.monotonic()
        if state.blocked_until is not None and now < state.blocked_until:
            return _answer(130101, "send too fast, exceed 20 times per minute")
        if not state.window.take(now):
            state.blocked_until = now + BLOCK_S
            return _answer(130101, "send too fast, exceed 20 times per minute")
        self.inbox.add(Received(robot.access_token, self._clock.now(), message))
        return _answer(0, "ok")

    def _check_signature(
        self, secret: str, timestamp: str | None, sign: str | None
    ) -> JsonResponse | None:
        if not timestamp or not timestamp.isdigit():
            return _answer(310000, "invalid timestamp")
        now_ms = int(self._clock.now().timestamp() * 1000)
        if abs(now_ms - int(timestamp)) > MAX_SKEW_MS:
            return _answer(310000, "invalid timestamp")
        if sign is None or not hmac.compare_digest(dingtalk_signature(secret, timestamp), sign):
            return _answer(310000, "sign not match")
        return None


def _ip_allowed(host: str, allowed: Sequence[str]) -> bool:
    """Whether `host` is one of the robot's addresses or inside one of its CIDR blocks."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:  # no peer address (e.g. an in-process test client): nothing to allow
        return False
    # strict=False: a plain address is its own /32 (or /128) block.
    return any(address in ipaddress.ip_network(entry, strict=False) for entry in allowed)


def _filled(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def _check_schema(msgtype: Any, content: Any) -> JsonResponse | None:
    if msgtype not in REQUIRED:
        return _answer(400105, "不支持的消息类型")
    if not isinstance(content, dict):
        return _answer(40035, f"缺少参数 {msgtype}")
    for name in REQUIRED[msgtype]:
        if not _filled(content.get(name)):
            return _answer(40035, f"缺少参数 {msgtype}.{name}")
    return _check_buttons(content) if msgtype == "actionCard" else None


def _check_buttons(card: dict[str, Any]) -> JsonResponse | None:
    """An actionCard's one button (singleTitle, singleURL) or several (`btns`), all filled."""
    if "btns" not in card:
        missing = [name for name in SINGLE_BUTTON if not _filled(card.get(name))]
        return _answer(40035, f"缺少参数 actionCard.{missing[0]}") if missing else None
    buttons = card["btns"]
    if not (
        isinstance(buttons, list)
        and buttons
        and all(isinstance(b, dict) and all(_filled(b.get(n)) for n in BUTTON) for b in buttons)
    ):
        return _answer(40035, "缺少参数 actionCard.btns")
    return None
