"""Voice calls through an Alibaba-Dyvms-style SingleCallByTts API: one signed call per callee."""

from __future__ import annotations

import logging
import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

import httpx
import orjson

from notifiers.base import Notification, NotifyResult, Outcome
from notifiers.templates import Templates, default_templates
from notifiers.transport import json_object, new_client, request
from smsplatform.clock import Clock, system_clock
from suppliers.signing import aliyun_rpc_signature, aliyun_timestamp

log = logging.getLogger(__name__)

CHANNEL: Final = "voice"
TTS_PARAM_MAX_CHARS: Final = 249  # all variable text together < 250 characters (WIRE.md §4)
OUT_ID_BYTES: Final = 15
RETRIABLE: Final = frozenset(
    {"isp.SYSTEM_ERROR", "Throttling", "Throttling.User", "SignatureNonceUsed"}
)
# A timestamp refused for skew or format: resent once, signed anew with the clock read again.
STALE_TIMESTAMP_PREFIX: Final = "InvalidTimeStamp."
# Per callee, counting every attempt placed or refused: (calls, window in seconds) (WIRE.md §4).
CALLEE_LIMITS: Final = ((1, 60.0), (5, 3600.0), (20, 86400.0))
# The final `status_code` of a call (its VoiceReport) and what it means (WIRE.md §4).
FINAL_STATUS: Final = {
    "200000": "heard to the end",
    "200001": "hung up early",
    "200002": "busy",
    "200003": "no answer",
    "200004": "invalid number",
    "200005": "unreachable or rejected",
    "200006": "audio format error",
    "200007": "out of coverage",
    "200008": "key-press timeout",
    "200010": "powered off",
    "200011": "suspended",
    "999999": "system error",
    "500": "carrier error",
    "400": "network busy",
}


@dataclass(frozen=True)
class VoiceConfig:
    access_key_id: str
    access_key_secret: str
    tts_code: str  # the approved TTS template; its variable is `tts_param_name`
    tts_param_name: str = "summary"
    called_show_number: str = ""  # empty: the public number pool
    play_times: int = 2
    region_id: str = "cn-hangzhou"
    base_url: str = "https://dyvmsapi.aliyuncs.com"


# Told each call's OutId before the call is placed, with what the call is for: a receipt (a key
# press) can then be matched to it even when the answer naming its CallId never arrives.
CallBinder = Callable[[str, Notification], Awaitable[None]]


def new_out_id() -> str:
    """A call's `OutId`, echoed back in its receipts: random per call (15 hex digits, 60 bits),
    so nobody can derive it from what the call is about."""
    return secrets.token_hex(8)[:OUT_ID_BYTES]


class VoiceNotifier:
    """Calls every recipient; delivered when at least one call was placed."""

    def __init__(
        self,
        config: VoiceConfig,
        *,
        clock: Clock = system_clock,
        client: httpx.AsyncClient | None = None,
        templates: Templates = default_templates,
        bind_call: CallBinder | None = None,
    ) -> None:
        self.config = config
        self._clock = clock
        self._client = client or new_client()
        self._owns_client = client is None
        self._templates = templates
        self._bind_call = bind_call

    @property
    def channel(self) -> str:
        return CHANNEL

    def params(self, notification: Notification, callee: str, out_id: str) -> dict[str, str]:
        """The signed parameters of one call."""
        speech = self._templates.render("speech", notification)[:TTS_PARAM_MAX_CHARS]
        params = {
            "AccessKeyId": self.config.access_key_id,
            "Action": "SingleCallByTts",
            "Format": "JSON",
            "RegionId": self.config.region_id,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": str(uuid.uuid4()),
            "SignatureVersion": "1.0",
            "Timestamp": aliyun_timestamp(self._clock.now()),
            "Version": "2017-05-25",
            "CalledNumber": callee,
            "TtsCode": self.config.tts_code,
            "TtsParam": orjson.dumps({self.config.tts_param_name: speech}).decode(),
            "PlayTimes": str(self.config.play_times),
            "OutId": out_id,
        }
        if self.config.called_show_number:
            params["CalledShowNumber"] = self.config.called_show_number
        params["Signature"] = aliyun_rpc_signature("POST", params, self.config.access_key_secret)
        return params

    async def _call(self, notification: Notification, callee: str) -> NotifyResult:
        out_id = new_out_id()
        if self._bind_call is not None:
            await self._bind_call(out_id, notification)
        result = await self._place(notification, callee, out_id)
        if (result.error_code or "").startswith(STALE_TIMESTAMP_PREFIX):
            # Clock skew: one immediate resend with a fresh Timestamp, nonce and Signature
            # (WIRE.md §4); a second refusal is final, as the clock is off by more than that.
            log.warning("voice timestamp refused; re-signing once callee=%s", callee)
            result = await self._place(notification, callee, out_id)
        return result

    async def _place(self, notification: Notification, callee: str, out_id: str) -> NotifyResult:
        """One signed SingleCallByTts request for `callee`, its answer decided on `Code`."""
        answer = await request(
            self._client,
            CHANNEL,
            "POST",
            f"{self.config.base_url}/",
            data=self.params(notification, callee, out_id),
        )
        if isinstance(answer, NotifyResult):
            return answer
        body = json_object(answer) or {}
        code, message = str(body.get("Code", "")), str(body.get("Message", ""))
        if code == "OK":
            return NotifyResult(Outcome.DELIVERED, CHANNEL, callee, reference=body.get("CallId"))
        if not code:
            outcome = Outcome.RETRY if answer.status_code >= 500 else Outcome.FAILED
            return NotifyResult(outcome, CHANNEL, f"HTTP {answer.status_code} without Code")
        log.warning("voice call refused callee=%s code=%s message=%r", callee, code, message)
        outcome = Outcome.RETRY if code in RETRIABLE else Outcome.FAILED
        return NotifyResult(outcome, CHANNEL, f"{callee}: {message}", code)

    async def send(self, notification: Notification) -> NotifyResult:
        if not notification.recipients:
            return NotifyResult(Outcome.FAILED, CHANNEL, "no recipients to call", "no_recipients")
        results = [await self._call(notification, callee) for callee in notification.recipients]
        placed = [r for r in results if r.outcome is Outcome.DELIVERED]
        refused = [r for r in results if r.outcome is not Outcome.DELIVERED]
        if placed:
            # Call ids joined by commas: receipts and key presses come back per call id.
            return NotifyResult(
                Outcome.DELIVERED,
                CHANNEL,
                "; ".join([f"called {r.detail}" for r in placed] + [r.detail for r in refused]),
                reference=",".join(r.reference or "" for r in placed),
            )
        # Nobody was called, so retrying calls nobody twice.
        retriable = [r for r in refused if r.outcome is Outcome.RETRY]
        return retriable[0] if retriable else refused[0]

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()
