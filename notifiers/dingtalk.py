"""DingTalk custom group robot: signed webhook, markdown or actionCard bodies, @mobile mentions."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal
from urllib.parse import quote

import httpx
import orjson

from notifiers.base import Notification, NotifyResult, Outcome
from notifiers.cut import fit
from notifiers.templates import Templates, default_templates
from notifiers.transport import json_object, new_client, request
from smsplatform.clock import Clock, system_clock

log = logging.getLogger(__name__)

CHANNEL: Final = "dingtalk"
# DingTalk sets no size limit; our convention keeps the text within this (WIRE.md §7.5).
TEXT_LIMIT_BYTES: Final = 4096
RATE_LIMITED: Final = frozenset({130101, 410100})
BUSY: Final = -1
# The robot is blocked for up to 10 minutes; ask for 60 s and let the retry loop back off.
RATE_LIMIT_RETRY_AFTER_S: Final = 60.0
BUSY_RETRY_AFTER_S: Final = 1.0
# 310000 answers a bad sign, a missing keyword, a refused IP and a stale timestamp alike; only
# the errmsg tells them apart, and only the stale timestamp is cured by signing again (WIRE.md §1).
SECURITY_REFUSED: Final = 310000
# The old and the newer errmsg of a stale timestamp ("description:机器人发送签名过期;solution:…",
# seen live in 2024). Not a bare "时间戳": the newer sign-mismatch text names it in its solution,
# and a wrong secret must not be resent.
STALE_TIMESTAMP_MARKERS: Final = ("invalid timestamp", "机器人发送签名过期")


def dingtalk_signature(secret: str, timestamp_ms: str) -> str:
    """Base64(HMAC-SHA256(secret, timestamp + "\\n" + secret)): the `sign` before URL-encoding."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256)
    return base64.b64encode(digest.digest()).decode()


@dataclass(frozen=True)
class DingTalkConfig:
    access_token: str
    secret: str | None = None  # the robot's signing secret (`SEC…`) when signing is on
    keywords: tuple[str, ...] = ()  # the robot's custom keywords when keyword security is on
    msgtype: Literal["markdown", "actionCard"] = "markdown"
    base_url: str = "https://oapi.dingtalk.com"
    ack_button_title: str = "Acknowledge"


class DingTalkNotifier:
    """One DingTalk robot. Results are decided on `errcode`, never on the HTTP status."""

    def __init__(
        self,
        config: DingTalkConfig,
        *,
        clock: Clock = system_clock,
        client: httpx.AsyncClient | None = None,
        templates: Templates = default_templates,
    ) -> None:
        self.config = config
        self._clock = clock
        self._client = client or new_client()
        self._owns_client = client is None
        self._templates = templates

    @property
    def channel(self) -> str:
        return CHANNEL

    def url(self) -> str:
        """The send URL, signed with the current time when the robot has a secret."""
        url = f"{self.config.base_url}/robot/send?access_token={quote(self.config.access_token)}"
        if self.config.secret is None:
            return url
        timestamp_ms = str(int(self._clock.now().timestamp() * 1000))
        sign = dingtalk_signature(self.config.secret, timestamp_ms)
        # safe="": `+`, `/` and `=` of the Base64 must reach the server percent-encoded.
        return f"{url}&timestamp={timestamp_ms}&sign={quote(sign, safe='')}"

    def body(self, notification: Notification) -> dict[str, Any]:
        """The JSON message: title, text cut to the limit with the console link, mentions."""
        title = self._templates.render("title", notification)
        text = self._templates.render("markdown", notification)
        mentions = " ".join(f"@{mobile}" for mobile in notification.recipients)
        if mentions:
            # The @mobile must be in the text too, or clients show no mention.
            text = f"{text}\n\n{mentions}"
        link = f"[Console]({notification.console_url})" if notification.console_url else None
        if self.config.msgtype == "markdown" and notification.ack_url:
            link = f"[{self.config.ack_button_title}]({notification.ack_url})" + (
                f" · {link}" if link else ""
            )
        text = fit(text, TEXT_LIMIT_BYTES, link)
        title = _with_keyword(title, text, self.config.keywords)
        at = {"atMobiles": list(notification.recipients), "isAtAll": False}
        target = notification.ack_url or notification.console_url
        if self.config.msgtype == "actionCard" and target:
            button = self.config.ack_button_title if notification.ack_url else "Console"
            card = {"title": title, "text": text, "singleTitle": button, "singleURL": target}
            return {"msgtype": "actionCard", "actionCard": card, "at": at}
        # An actionCard needs a button; with nowhere to point one, markdown says the same.
        return {"msgtype": "markdown", "markdown": {"title": title, "text": text}, "at": at}

    async def send(self, notification: Notification) -> NotifyResult:
        content = orjson.dumps(self.body(notification))
        result = await self._post(content)
        if is_stale_timestamp(result):
            # Clock skew: one immediate resend, signed anew with the clock read again (WIRE.md
            # §1). A second refusal is final: the clock is off by more than a resend can fix.
            log.warning("dingtalk timestamp refused; re-signing once errmsg=%r", result.detail)
            result = await self._post(content)
        return result

    async def _post(self, content: bytes) -> NotifyResult:
        """One signed POST of the message, its answer decided on `errcode`."""
        answer = await request(
            self._client,
            CHANNEL,
            "POST",
            self.url(),
            content=content,
            headers={"Content-Type": "application/json; charset=utf-8"},
        )
        if isinstance(answer, NotifyResult):
            return answer
        body = json_object(answer)
        if body is None or not isinstance(body.get("errcode"), int):
            outcome = Outcome.RETRY if answer.status_code >= 500 else Outcome.FAILED
            return NotifyResult(outcome, CHANNEL, f"HTTP {answer.status_code} without errcode")
        return classify(body["errcode"], str(body.get("errmsg", "")))

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()


def classify(errcode: int, errmsg: str) -> NotifyResult:
    """The result of a DingTalk answer (WIRE.md §1 error table)."""
    code = str(errcode)
    if errcode == 0:
        return NotifyResult(Outcome.DELIVERED, CHANNEL, errmsg)
    if errcode == BUSY:
        return NotifyResult(Outcome.RETRY, CHANNEL, errmsg, code, BUSY_RETRY_AFTER_S)
    if errcode in RATE_LIMITED:
        log.warning("dingtalk rate limited errcode=%s errmsg=%r", errcode, errmsg)
        return NotifyResult(Outcome.RETRY, CHANNEL, errmsg, code, RATE_LIMIT_RETRY_AFTER_S)
    log.warning("dingtalk refused errcode=%s errmsg=%r", errcode, errmsg)
    return NotifyResult(Outcome.FAILED, CHANNEL, errmsg, code)


def is_stale_timestamp(result: NotifyResult) -> bool:
    """True when DingTalk refused the request's timestamp (skew over an hour), not its sign."""
    return result.error_code == str(SECURITY_REFUSED) and any(
        marker in result.detail.lower() for marker in STALE_TIMESTAMP_MARKERS
    )


def _with_keyword(title: str, text: str, keywords: Sequence[str]) -> str:
    """The title, prefixed with the first keyword when neither title nor text holds one."""
    if not keywords or any(word in title or word in text for word in keywords):
        return title
    return f"【{keywords[0]}】{title}"
