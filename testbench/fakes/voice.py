"""A faithful Dyvms-style voice API: RPC signature, limits, calls, and receipt/DTMF pushes."""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Final
from urllib.parse import parse_qsl

import httpx
import orjson
from fastapi import FastAPI, Request

from notifiers.budget import SlidingWindowBudget
from notifiers.retry import Sleep
from smsplatform.clock import Clock, system_clock
from smsplatform.http.responses import JsonResponse
from suppliers.signing import aliyun_parse_timestamp, aliyun_rpc_signature_valid
from testbench.fakes.inbox import Inbox, Received

log = logging.getLogger(__name__)

MAX_SKEW: Final = timedelta(minutes=15)  # the stricter of the two sources (WIRE.md §7.9)
NONCE_MEMORY_S: Final = 900.0
COMMON: Final = (
    "AccessKeyId",
    "Action",
    "Version",
    "Format",
    "SignatureMethod",
    "SignatureVersion",
    "SignatureNonce",
    "Timestamp",
    "Signature",
)
# Per callee, counting every attempt: 1/min, 5/hour, 20/24 h (WIRE.md §4).
CALLEE_LIMITS: Final = ((1, 60.0), (5, 3600.0), (20, 86400.0))
RECEIPT_ZONE: Final = timezone(timedelta(hours=8))
RECEIVER_TIMEOUT_S: Final = 0.7  # the receiver must answer within 700 ms (WIRE.md §4)
# Waits before each re-push of a receipt the receiver did not take; after the last, it is dropped
# (WIRE.md §4, §7.10). Each delay counts from the failed push before it, as in the SMS simulator.
RECEIPT_RETRY_S: Final = (60.0, 300.0, 600.0)


@dataclass
class FakeCall:
    call_id: str
    callee: str
    out_id: str
    tts_code: str
    tts_param: dict[str, Any]
    placed_at: datetime
    answered_at: datetime | None = None
    keys: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PushAttempt:
    """One POST of one receipt record to the callback URL, and whether the receiver took it."""

    call_id: str
    status_code: str  # with `call_id`, what a receiver dedupes on (WIRE.md §4)
    attempt: int  # 1 for the first push, then one more per re-push
    at: datetime
    http_status: int | None  # None when no answer came (timeout, connection refused)
    taken: bool
    why: str  # why not taken, e.g. "status 500", "code 1", "ReadTimeout"; "" when taken


def _refusal(http_status: int, body: bytes) -> str | None:
    """Why the receiver's answer does not take the push, or None when it does: HTTP 200 and a
    numeric `code`. Only that it is a number is checked (WIRE.md §4: `{"code":0,...}` is the
    documented answer, but the service does not read its value), and `msg` is not read."""
    if http_status != 200:
        return f"status {http_status}"
    try:
        reply = orjson.loads(body)
    except orjson.JSONDecodeError:
        return "body is not JSON"
    code = reply.get("code") if isinstance(reply, dict) else None
    # JSON `true` decodes to a Python bool, which is an int: it is still no numeric code.
    if not isinstance(code, int | float) or isinstance(code, bool):
        return "no numeric code"
    return None


def _error(status: int, code: str, message: str) -> JsonResponse:
    body = {"RequestId": secrets.token_hex(16).upper(), "Code": code, "Message": message}
    return JsonResponse(body, status_code=status)


class VoiceFake:
    """Accounts by AccessKeyId → secret; approved TTS templates; placed calls in `calls`.

    Receipts go to `callback_url`, the URL set in the service's console: a receiver that wants
    its pushes authenticated puts its token in that URL's query, and the fake posts to it as
    given, as the real service does. One the receiver does not take is re-pushed after each delay
    of RECEIPT_RETRY_S, waited with `sleep` (tests inject one that moves their ManualClock), and
    every POST is kept in `push_attempts`.
    """

    def __init__(
        self,
        accounts: Mapping[str, str],
        tts_codes: frozenset[str],
        *,
        callback_url: str | None = None,
        clock: Clock = system_clock,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._accounts = dict(accounts)
        self._tts_codes = tts_codes
        self.callback_url = callback_url
        self._clock = clock
        self._sleep = sleep
        self._nonces: dict[str, float] = {}
        self._callee_windows: dict[str, list[SlidingWindowBudget]] = {}
        self.calls: dict[str, FakeCall] = {}
        self.fail_next: list[str] = []  # business codes to answer next, e.g. "isp.SYSTEM_ERROR"
        self.receipts_pushed: list[dict[str, Any]] = []  # each record once, as first pushed
        self.push_attempts: list[PushAttempt] = []
        self._retrying: set[asyncio.Task[None]] = set()
        self.inbox = Inbox()
        self.app = FastAPI(title="fake Dyvms voice API")
        self.inbox.install(self.app)
        self.app.api_route("/", methods=["GET", "POST"])(self._rpc)

    async def _rpc(self, request: Request) -> JsonResponse:
        params: dict[str, str] = dict(request.query_params)
        if request.method == "POST":
            # urllib, not request.form(): python-multipart is not a dependency here.
            params.update(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        refusal = self._check_request(request.method, params)
        if refusal is not None:
            return refusal
        return self._single_call_by_tts(params)

    def _check_request(self, method: str, params: dict[str, str]) -> JsonResponse | None:
        for name in COMMON:
            if not params.get(name):
                return _error(400, f"Missing{name}", f"{name} is mandatory for this action.")
        secret = self._accounts.get(params["AccessKeyId"])
        if secret is None:
            return _error(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        try:
            at = aliyun_parse_timestamp(params["Timestamp"])
        except ValueError:
            return _error(400, "InvalidTimeStamp.Format", "Specified time stamp is not valid.")
        if abs(self._clock.now() - at) > MAX_SKEW:
            return _error(400, "InvalidTimeStamp.Expired", "Specified time stamp is expired.")
        if (params["SignatureMethod"], params["SignatureVersion"]) != ("HMAC-SHA1", "1.0"):
            return _error(400, "InvalidParameter", "SignatureMethod/SignatureVersion unsupported.")
        if not aliyun_rpc_signature_valid(method, params, secret):
            return _error(400, "SignatureDoesNotMatch", "Specified signature is not matched.")
        now = self._clock.monotonic()
        self._nonces = {n: t for n, t in self._nonces.items() if t > now - NONCE_MEMORY_S}
        if params["SignatureNonce"] in self._nonces:
            return _error(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
        self._nonces[params["SignatureNonce"]] = now
        if params["Action"] != "SingleCallByTts" or params["Version"] != "2017-05-25":
            return _error(400, "InvalidParameter", "Specified Action or Version is not valid.")
        return None

    def _single_call_by_tts(self, params: dict[str, str]) -> JsonResponse:
        for name in ("CalledNumber", "TtsCode"):
            if not params.get(name):
                return _error(400, f"Missing{name}", f"{name} is mandatory for this action.")
        callee, out_id = params["CalledNumber"], params.get("OutId", "")
        if len(out_id.encode()) > 15:
            return _error(400, "InvalidParameter", "OutId is longer than 15 bytes.")
        if params["TtsCode"] not in self._tts_codes:
            return _error(200, "isv.TTS_TEMPLATE_ILLEGAL", "TTS template is not valid.")
        try:
            tts_param = orjson.loads(params.get("TtsParam", "{}"))
        except orjson.JSONDecodeError:
            return _error(200, "isv.TEMPLATE_PARAMS_ILLEGAL", "TtsParam is not a JSON object.")
        if not isinstance(tts_param, dict):
            return _error(200, "isv.TEMPLATE_PARAMS_ILLEGAL", "TtsParam is not a JSON object.")
        text = "".join(str(v) for v in tts_param.values())
        if len(text) >= 250:
            return _error(200, "isv.PARAM_LENGTH_LIMIT", "TtsParam variables exceed 250 chars.")
        if "http://" in text or "https://" in text:
            return _error(200, "isv.PARAM_NOT_SUPPORT_URL", "TtsParam must not carry links.")
        if not self._callee_may_be_called(callee):
            return _error(200, "isv.BUSINESS_LIMIT_CONTROL", "该被叫号触发被叫流控")
        if self.fail_next:
            return _error(200, self.fail_next.pop(0), "injected failure")
        call_id = f"{random.randrange(10**11, 10**12)}^{random.randrange(10**11, 10**12)}"
        call = FakeCall(call_id, callee, out_id, params["TtsCode"], tts_param, self._clock.now())
        self.calls[call_id] = call
        self.inbox.add(Received(callee, call.placed_at, params))
        body = {
            "RequestId": secrets.token_hex(16).upper(),
            "Code": "OK",
            "Message": "OK",
            "CallId": call_id,
        }
        return JsonResponse(body)

    def _callee_may_be_called(self, callee: str) -> bool:
        windows = self._callee_windows.setdefault(
            callee, [SlidingWindowBudget(n, w, self._clock) for n, w in CALLEE_LIMITS]
        )
        now = self._clock.monotonic()
        allowed = all(window.available(now) > 0 for window in windows)
        # Every attempt counts, allowed or not (WIRE.md §4).
        for window in windows:
            window.take(now)
        return allowed

    # --- the call's life, pushed as receipts (WIRE.md §7.10, §7.11) -----------------------------
    def _at(self) -> str:
        return self._clock.now().astimezone(RECEIPT_ZONE).strftime("%Y-%m-%d %H:%M:%S")

    def _progress(self, call: FakeCall, status_code: str, dtmf: str = "") -> dict[str, Any]:
        return {
            "call_id": call.call_id,
            "status_code": status_code,
            "status_time": self._at(),
            "out_id": call.out_id,
            "dtmf": dtmf,
        }

    async def answer(self, call_id: str) -> None:
        """The callee picks up: pushes call started, ringing, answered."""
        call = self.calls[call_id]
        if call.answered_at is not None:
            return
        call.answered_at = self._clock.now()
        for code in ("200101", "200201", "200102"):
            await self._push(self._progress(call, code))

    async def press_key(self, call_id: str, digits: str) -> None:
        """The callee presses keys during the call (answering it first if need be)."""
        await self.answer(call_id)
        call = self.calls[call_id]
        call.keys.append(digits)
        await self._push(self._progress(call, "300000", digits))

    async def hang_up(self, call_id: str, status_code: str = "200000") -> None:
        """The call ends: pushes call ended, then the final VoiceReport with `status_code`."""
        call = self.calls[call_id]
        await self._push(self._progress(call, "200100"))
        answered = call.answered_at
        start = answered.astimezone(RECEIPT_ZONE).strftime("%Y-%m-%d %H:%M:%S") if answered else ""
        duration = int((self._clock.now() - answered).total_seconds()) if answered else 0
        await self._push(
            {
                "call_id": call.call_id,
                "start_time": start,
                "end_time": self._at(),
                "duration": str(duration),
                "status_code": status_code,
                "status_msg": "",
                "out_id": call.out_id,
                "caller": "",
                "callee": call.callee,
                "hangup_direction": "1",
                "originate_time": call.placed_at.astimezone(RECEIPT_ZONE).strftime(
                    "%Y-%m-%d %H:%M:%S"
                ),
                "voice_type": "tts",
                "smart_status_code": "",
                "early_media_code": "",
                "extend": "",
            }
        )

    async def _push(self, record: dict[str, Any]) -> None:
        """POST one record as a JSON array to the callback URL (one push per record).

        The first push is awaited, so a receiver that takes it has it when the call event
        returns; re-pushes run in the background, as the service's do minutes later.
        """
        self.receipts_pushed.append(record)
        url = self.callback_url
        if url is None or await self._attempt(url, record, 1):
            return
        retry = asyncio.create_task(self._retry(url, record), name="voice-fake-receipt-retry")
        self._retrying.add(retry)
        retry.add_done_callback(self._retrying.discard)

    async def _retry(self, url: str, record: dict[str, Any]) -> None:
        for attempt, delay_s in enumerate(RECEIPT_RETRY_S, start=2):
            await self._sleep(delay_s)
            if await self._attempt(url, record, attempt):
                return
        log.warning(
            "voice fake receipt dropped call_id=%s status_code=%s attempts=%d",
            record["call_id"],
            record["status_code"],
            len(RECEIPT_RETRY_S) + 1,
        )

    async def _attempt(self, url: str, record: dict[str, Any], attempt: int) -> bool:
        """One POST of `record`, kept in `push_attempts`; whether the receiver took it."""
        at = self._clock.now()
        http_status: int | None = None
        async with httpx.AsyncClient(timeout=RECEIVER_TIMEOUT_S) as client:
            try:
                answer = await client.post(
                    url,
                    content=orjson.dumps([record]),
                    headers={"Content-Type": "application/json"},
                )
                http_status = answer.status_code
                why = _refusal(answer.status_code, answer.content)
            except httpx.HTTPError as exc:
                why = type(exc).__name__
        call_id, status_code = record["call_id"], record["status_code"]
        self.push_attempts.append(
            PushAttempt(call_id, status_code, attempt, at, http_status, why is None, why or "")
        )
        if why is not None:
            log.info(
                "voice fake receipt not taken call_id=%s status_code=%s attempt=%d why=%s",
                call_id,
                status_code,
                attempt,
                why,
            )
        return why is None

    async def settle(self) -> None:
        """Wait until every receipt being re-pushed is taken or dropped (with the real
        `asyncio.sleep` that is up to 16 minutes: tests inject a sleep that moves their clock)."""
        while self._retrying:
            await asyncio.gather(*self._retrying)

    async def aclose(self) -> None:
        """Stop re-pushing: the receipts still waiting for a retry are dropped."""
        retrying = list(self._retrying)  # each leaves the set as it ends
        for retry in retrying:
            retry.cancel()
        await asyncio.gather(*retrying, return_exceptions=True)
