"""WeCom application message API: access_token cached per app, refreshed on token errors."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Final, Literal
from urllib.parse import urlencode

import httpx
import orjson

from notifiers.base import Notification, NotifyResult
from notifiers.cut import fit
from notifiers.templates import Templates, default_templates
from notifiers.transport import json_object, new_client, request
from notifiers.wecom import answer_result, classify
from smsplatform.clock import Clock, system_clock

log = logging.getLogger(__name__)

CHANNEL: Final = "wecom_app"
LIMIT_BYTES: Final = 2048  # text.content and app markdown.content (WIRE.md §3)
TOKEN_ERRORS: Final = frozenset({40014, 42001, 41001})
# Refresh a token this long before WeCom says it expires (WIRE.md §7.8).
REFRESH_MARGIN_S: Final = 300.0


@dataclass(frozen=True)
class WeComAppConfig:
    corp_id: str
    corp_secret: str
    agent_id: int
    to_user: tuple[str, ...] = ("@all",)  # WeCom userids
    msgtype: Literal["text", "markdown"] = "text"
    base_url: str = "https://qyapi.weixin.qq.com"


@dataclass
class _Token:
    value: str
    expires_at: float  # clock.monotonic() seconds


class TokenCache:
    """Tokens per (corp id, secret): each application secret has its own token (WIRE.md §3)."""

    def __init__(self) -> None:
        self._tokens: dict[tuple[str, str], _Token] = {}

    def get(self, key: tuple[str, str], now: float) -> str | None:
        token = self._tokens.get(key)
        if token is None or now >= token.expires_at - REFRESH_MARGIN_S:
            return None
        return token.value

    def put(self, key: tuple[str, str], value: str, expires_at: float) -> None:
        self._tokens[key] = _Token(value, expires_at)

    def drop(self, key: tuple[str, str]) -> None:
        self._tokens.pop(key, None)


class WeComAppNotifier:
    """Sends as one WeCom application (`agent_id`) to configured users."""

    def __init__(
        self,
        config: WeComAppConfig,
        *,
        clock: Clock = system_clock,
        client: httpx.AsyncClient | None = None,
        tokens: TokenCache | None = None,
        templates: Templates = default_templates,
    ) -> None:
        self.config = config
        self._clock = clock
        self._client = client or new_client()
        self._owns_client = client is None
        self._tokens = tokens or TokenCache()
        self._templates = templates
        self._key = (config.corp_id, config.corp_secret)
        self.token_fetches = 0

    @property
    def channel(self) -> str:
        return CHANNEL

    def body(self, notification: Notification) -> dict[str, Any]:
        markdown = self.config.msgtype == "markdown"
        links = []
        if notification.ack_url:
            links.append(
                f"[Acknowledge]({notification.ack_url})"
                if markdown
                else f"Acknowledge: {notification.ack_url}"
            )
        if notification.console_url:
            links.append(
                f"[Console]({notification.console_url})"
                if markdown
                else f"Console: {notification.console_url}"
            )
        rendered = self._templates.render("markdown" if markdown else "text", notification)
        content = fit(rendered, LIMIT_BYTES, ("\n" if not markdown else " · ").join(links) or None)
        return {
            "touser": "|".join(self.config.to_user),
            "msgtype": self.config.msgtype,
            "agentid": self.config.agent_id,
            self.config.msgtype: {"content": content},
        }

    async def _token(self) -> str | NotifyResult:
        cached = self._tokens.get(self._key, self._clock.monotonic())
        if cached is not None:
            return cached
        query = urlencode({"corpid": self.config.corp_id, "corpsecret": self.config.corp_secret})
        answer = await request(
            self._client, CHANNEL, "GET", f"{self.config.base_url}/cgi-bin/gettoken?{query}"
        )
        if isinstance(answer, NotifyResult):
            return answer
        self.token_fetches += 1
        body = json_object(answer) or {}
        token, expires_in = body.get("access_token"), body.get("expires_in")
        if (
            body.get("errcode") != 0
            or not isinstance(token, str)
            or not isinstance(expires_in, int)
        ):
            if isinstance(body.get("errcode"), int):
                return classify(CHANNEL, body["errcode"], str(body.get("errmsg", "")))
            return answer_result(CHANNEL, answer)
        self._tokens.put(self._key, token, self._clock.monotonic() + expires_in)
        log.info(
            "wecom_app token fetched corp_id=%s expires_in=%d", self.config.corp_id, expires_in
        )
        return token

    async def _send_once(self, token: str, payload: bytes) -> tuple[NotifyResult, int | None]:
        answer = await request(
            self._client,
            CHANNEL,
            "POST",
            f"{self.config.base_url}/cgi-bin/message/send?access_token={token}",
            content=payload,
            headers={"Content-Type": "application/json"},
        )
        if isinstance(answer, NotifyResult):
            return answer, None
        body = json_object(answer) or {}
        errcode = body.get("errcode")
        return answer_result(CHANNEL, answer), errcode if isinstance(errcode, int) else None

    async def send(self, notification: Notification) -> NotifyResult:
        payload = orjson.dumps(self.body(notification))
        result: NotifyResult | None = None
        # A token WeCom invalidated early is re-fetched and the send replayed once; a second
        # token error is final (WIRE.md §7.8).
        for _ in range(2):
            token = await self._token()
            if isinstance(token, NotifyResult):
                return token
            result, errcode = await self._send_once(token, payload)
            if errcode not in TOKEN_ERRORS:
                return result
            log.info("wecom_app token refused errcode=%s; re-fetching", errcode)
            self._tokens.drop(self._key)
        assert result is not None
        return result

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()
