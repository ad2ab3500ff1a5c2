"""A faithful WeCom application API: gettoken, message/send, token expiry and invalidation."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import orjson
from fastapi import FastAPI, Request

from notifiers.budget import SlidingWindowBudget
from smsplatform.clock import Clock, system_clock
from smsplatform.http.responses import JsonResponse
from testbench.fakes.inbox import Inbox, Received
from testbench.fakes.wecom import content_refusal, wecom_error

TOKEN_TTL_S: Final = 7200
APP_CONTENT_LIMITS: Final = {"text": 2048, "markdown": 2048}
# Per member: over 30 a minute or 1000 an hour is dropped silently, still errcode 0 (§7.7).
PER_MEMBER_LIMITS: Final = ((30, 60.0), (1000, 3600.0))


@dataclass(frozen=True)
class FakeApp:
    corp_id: str
    corp_secret: str
    agent_id: int


@dataclass
class _IssuedToken:
    app: FakeApp
    expires_at: float
    invalidated: bool = False


class WeComAppFake:
    """Applications by (corp id, secret); `inbox` holds delivered and dropped messages."""

    def __init__(self, apps: Sequence[FakeApp], clock: Clock = system_clock) -> None:
        self._clock = clock
        self.apps = list(apps)
        self._tokens: dict[str, _IssuedToken] = {}
        self._member_windows: dict[tuple[int, str], list[SlidingWindowBudget]] = {}
        self.tokens_issued = 0
        self.inbox = Inbox()
        self.app = FastAPI(title="fake WeCom application API")
        self.inbox.install(self.app)
        self.app.get("/cgi-bin/gettoken")(self._gettoken)
        self.app.post("/cgi-bin/message/send")(self._send)

    def invalidate_tokens(self) -> None:
        """WeCom revoking tokens early: the next send with one answers 40014."""
        for token in self._tokens.values():
            token.invalidated = True

    def expire_tokens(self) -> None:
        """Tokens reaching their expiry: the next send with one answers 42001."""
        for token in self._tokens.values():
            token.expires_at = self._clock.monotonic()

    async def _gettoken(self, request: Request) -> JsonResponse:
        corp_id = request.query_params.get("corpid", "")
        secret = request.query_params.get("corpsecret", "")
        if not any(app.corp_id == corp_id for app in self.apps):
            return wecom_error(40013, "invalid corpid")
        app = next((a for a in self.apps if a.corp_id == corp_id and a.corp_secret == secret), None)
        if app is None:
            return wecom_error(40001, "invalid credential")
        now = self._clock.monotonic()
        for value, issued in self._tokens.items():
            # The same token while it is valid (§7.8).
            if issued.app == app and not issued.invalidated and now < issued.expires_at:
                return self._token_answer(value, issued.expires_at - now)
        value = secrets.token_hex(32)
        self._tokens[value] = _IssuedToken(app, now + TOKEN_TTL_S)
        self.tokens_issued += 1
        return self._token_answer(value, TOKEN_TTL_S)

    @staticmethod
    def _token_answer(value: str, expires_in: float) -> JsonResponse:
        return JsonResponse(
            {"errcode": 0, "errmsg": "ok", "access_token": value, "expires_in": int(expires_in)}
        )

    async def _send(self, request: Request) -> JsonResponse:
        value = request.query_params.get("access_token")
        if not value:
            return wecom_error(41001, "access_token missing")
        issued = self._tokens.get(value)
        if issued is None or issued.invalidated:
            return wecom_error(40014, "invalid access_token")
        if self._clock.monotonic() >= issued.expires_at:
            return wecom_error(42001, "access_token expired")
        try:
            message = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return wecom_error(40058, "invalid json. invalid Request Parameter")
        if not isinstance(message, dict):
            return wecom_error(40058, "invalid json. invalid Request Parameter")
        if message.get("agentid") != issued.app.agent_id:
            return wecom_error(40056, "invalid agentid")
        msgtype = message.get("msgtype")
        if msgtype not in APP_CONTENT_LIMITS:
            return wecom_error(40008, "invalid message type")
        section = message.get(msgtype)
        content = section.get("content") if isinstance(section, dict) else ""
        if isinstance(content, str) and len(content.encode()) > APP_CONTENT_LIMITS[msgtype]:
            return wecom_error(
                40058,
                f"{msgtype}.content exceed max length {APP_CONTENT_LIMITS[msgtype]}. "
                "invalid Request Parameter",
            )
        refusal = content_refusal(msgtype, message)
        if refusal is not None:
            return refusal
        touser = message.get("touser")
        if not isinstance(touser, str) or not touser:
            return wecom_error(81013, "user & party & tag all invalid")
        for member in touser.split("|"):
            dropped = not self._member_may_receive(issued.app.agent_id, member)
            self.inbox.add(
                Received(member, self._clock.now(), message, "dropped" if dropped else "")
            )
        return JsonResponse(
            {"errcode": 0, "errmsg": "ok", "invaliduser": "", "msgid": secrets.token_hex(16)}
        )

    def _member_may_receive(self, agent_id: int, member: str) -> bool:
        windows = self._member_windows.setdefault(
            (agent_id, member),
            [
                SlidingWindowBudget(limit, window, self._clock)
                for limit, window in PER_MEMBER_LIMITS
            ],
        )
        now = self._clock.monotonic()
        if any(window.available(now) <= 0 for window in windows):
            return False
        for window in windows:
            window.take(now)
        return True
