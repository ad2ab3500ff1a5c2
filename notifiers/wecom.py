"""WeCom group robot webhook: markdown (≤ 4096 bytes) or text with mentioned mobiles (≤ 2048)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Final, Literal
from urllib.parse import quote

import httpx
import orjson

from notifiers.base import Notification, NotifyResult, Outcome
from notifiers.cut import fit
from notifiers.templates import Templates, default_templates
from notifiers.transport import json_object, new_client, request

log = logging.getLogger(__name__)

CHANNEL: Final = "wecom"
LIMIT_BYTES: Final = {"markdown": 4096, "text": 2048}
RATE_LIMITED: Final = 45009
BUSY: Final = -1
RATE_LIMIT_RETRY_AFTER_S: Final = 60.0  # the robot's window is a minute (WIRE.md §2)
BUSY_RETRY_AFTER_S: Final = 1.0


@dataclass(frozen=True)
class WeComRobotConfig:
    key: str
    msgtype: Literal["markdown", "text"] = "markdown"
    base_url: str = "https://qyapi.weixin.qq.com"


def classify(channel: str, errcode: int, errmsg: str) -> NotifyResult:
    """The result of a WeCom answer: -1 and 45009 are worth a retry, every other code is final."""
    code = str(errcode)
    if errcode == 0:
        return NotifyResult(Outcome.DELIVERED, channel, errmsg)
    if errcode == BUSY:
        return NotifyResult(Outcome.RETRY, channel, errmsg, code, BUSY_RETRY_AFTER_S)
    if errcode == RATE_LIMITED:
        log.warning("wecom rate limited channel=%s errmsg=%r", channel, errmsg)
        return NotifyResult(Outcome.RETRY, channel, errmsg, code, RATE_LIMIT_RETRY_AFTER_S)
    log.warning("wecom refused channel=%s errcode=%s errmsg=%r", channel, errcode, errmsg)
    return NotifyResult(Outcome.FAILED, channel, errmsg, code)


def answer_result(channel: str, answer: httpx.Response) -> NotifyResult:
    """Classify an HTTP answer of a WeCom API by its `errcode`."""
    body = json_object(answer)
    if body is None or not isinstance(body.get("errcode"), int):
        outcome = Outcome.RETRY if answer.status_code >= 500 else Outcome.FAILED
        return NotifyResult(outcome, channel, f"HTTP {answer.status_code} without errcode")
    return classify(channel, body["errcode"], str(body.get("errmsg", "")))


class WeComRobotNotifier:
    """One WeCom group robot, addressed by its webhook key."""

    def __init__(
        self,
        config: WeComRobotConfig,
        *,
        client: httpx.AsyncClient | None = None,
        templates: Templates = default_templates,
    ) -> None:
        self.config = config
        self._client = client or new_client()
        self._owns_client = client is None
        self._templates = templates

    @property
    def channel(self) -> str:
        return CHANNEL

    def body(self, notification: Notification) -> dict[str, Any]:
        # Markdown can only mention by `<@userid>`, never by mobile (WIRE.md §2): a message
        # that must mention phone numbers goes out as text with `mentioned_mobile_list`.
        msgtype = "text" if notification.recipients else self.config.msgtype
        if msgtype == "markdown":
            link = f"[Console]({notification.console_url})" if notification.console_url else None
            if notification.ack_url:
                link = f"[Acknowledge]({notification.ack_url})" + (f" · {link}" if link else "")
            content = fit(
                self._templates.render("markdown", notification), LIMIT_BYTES[msgtype], link
            )
            return {"msgtype": "markdown", "markdown": {"content": content}}
        lines = [f"Acknowledge: {notification.ack_url}"] if notification.ack_url else []
        if notification.console_url:
            lines.append(f"Console: {notification.console_url}")
        text = fit(
            self._templates.render("text", notification),
            LIMIT_BYTES[msgtype],
            "\n".join(lines) or None,
        )
        return {
            "msgtype": "text",
            "text": {"content": text, "mentioned_mobile_list": list(notification.recipients)},
        }

    async def send(self, notification: Notification) -> NotifyResult:
        answer = await request(
            self._client,
            CHANNEL,
            "POST",
            f"{self.config.base_url}/cgi-bin/webhook/send?key={quote(self.config.key)}",
            content=orjson.dumps(self.body(notification)),
            headers={"Content-Type": "application/json"},
        )
        if isinstance(answer, NotifyResult):
            return answer
        return answer_result(CHANNEL, answer)

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()
