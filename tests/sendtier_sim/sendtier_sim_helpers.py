"""Test-side helpers for the simulators: a real receipt receiver and signed client requests."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from smsplatform.clock import ManualClock
from suppliers.settings import AliyunAccount, CmppAccount, TencentAccount, TwilioAccount
from suppliers.signing import (
    aliyun_rpc_signature,
    aliyun_timestamp,
    cmpp_submit_sign,
    tencent_tc3_authorization,
)

START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)

ALIYUN = AliyunAccount(access_key_id="LTAI5tSimKey", access_key_secret="sim-aliyun-secret")
TENCENT = TencentAccount(
    secret_id="AKIDsimSecretId", secret_key="sim-tencent-key", sdk_app_id="1400006666"
)
TWILIO = TwilioAccount(
    account_sid="AC" + "0123456789abcdef" * 2,
    auth_token="sim-twilio-token",
    from_number="+15005550006",
)
CMPP = CmppAccount(account="sim-cmpp", secret="sim-cmpp-secret")

# Plans in tests answer at once and report receipts after exactly 5 s unless they say otherwise.
QUICK: dict[str, Any] = {
    "submit": {"latency": {"kind": "fixed", "median_ms": 0}},
    "receipts": {"delay": {"kind": "fixed", "median_ms": 5000}},
}


def plan(**overrides: Any) -> dict[str, Any]:
    """QUICK with top-level sections replaced or merged (one level deep)."""
    merged = {key: dict(value) for key, value in QUICK.items()}
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def manual_clock() -> ManualClock:
    return ManualClock(START)


@dataclass
class Push:
    """One request the receiver got."""

    url: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode(), keep_blank_values=True))

    @property
    def path(self) -> str:
        return urlsplit(self.url).path


@dataclass
class Receiver:
    """A real HTTP endpoint recording pushes; answers from `replies` first, then the default."""

    url: str = ""
    pushes: list[Push] = field(default_factory=list)
    replies: list[tuple[int, bytes]] = field(default_factory=list)
    default_reply: tuple[int, bytes] = (200, b"OK")

    async def wait_for(self, count: int, timeout_s: float = 2.0) -> list[Push]:
        deadline = time.monotonic() + timeout_s
        while len(self.pushes) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return self.pushes


@asynccontextmanager
async def running_receiver(
    default_reply: tuple[int, bytes] = (200, b"OK"),
) -> AsyncIterator[Receiver]:
    receiver = Receiver(default_reply=default_reply)

    async def record(request: Request) -> Response:
        receiver.pushes.append(Push(str(request.url), dict(request.headers), await request.body()))
        status, body = receiver.replies.pop(0) if receiver.replies else receiver.default_reply
        return Response(body, status)

    app = Starlette(routes=[Route("/{path:path}", record, methods=["POST"])])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # see server.py
    sock.bind(("127.0.0.1", 0))
    receiver.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.005)
    try:
        yield receiver
    finally:
        server.should_exit = True
        await task
        sock.close()


# --- signed client requests, one per dialect ---------------------------------------------------
def aliyun_params(
    clock: ManualClock,
    params: dict[str, str],
    *,
    method: str = "POST",
    nonce: str | None = None,
    secret: str = "sim-aliyun-secret",
    timestamp: datetime | None = None,
) -> dict[str, str]:
    """Common parameters plus `params`, signed as the Alibaba SDKs sign them."""
    signed = {
        "AccessKeyId": ALIYUN.access_key_id,
        "Action": "SendSms",
        "Version": "2017-05-25",
        "Format": "JSON",
        "RegionId": "cn-hangzhou",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "SignatureNonce": nonce or f"nonce-{time.monotonic_ns()}",
        "Timestamp": aliyun_timestamp(timestamp or clock.now()),
        **params,
    }
    signed["Signature"] = aliyun_rpc_signature(method, signed, secret)
    return signed


def send_sms(phone: str, **extra: str) -> dict[str, str]:
    return {
        "PhoneNumbers": phone,
        "SignName": "阿里云短信测试",
        "TemplateCode": "SMS_153055065",
        "TemplateParam": '{"code":"1234"}',
        **extra,
    }


def tencent_request(
    base_url: str,
    clock: ManualClock,
    payload: dict[str, Any],
    *,
    action: str = "SendSms",
    secret_key: str = "sim-tencent-key",
    timestamp: int | None = None,
) -> tuple[dict[str, str], bytes]:
    """Headers and body of a TC3-signed API 3.0 call."""
    body = json.dumps(payload).encode()
    ts = timestamp if timestamp is not None else int(clock.now().timestamp())
    host = urlsplit(base_url).netloc
    content_type = "application/json; charset=utf-8"
    headers = {
        "Content-Type": content_type,
        "Host": host,
        "X-TC-Action": action,
        "X-TC-Version": "2021-01-11",
        "X-TC-Region": "ap-guangzhou",
        "X-TC-Timestamp": str(ts),
        "Authorization": tencent_tc3_authorization(
            TENCENT.secret_id, secret_key, "sms", host, ts, body, content_type
        ),
    }
    return headers, body


def tencent_send(phones: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "PhoneNumberSet": phones,
        "SmsSdkAppId": TENCENT.sdk_app_id,
        "SignName": "腾讯云",
        "TemplateId": "449739",
        "TemplateParamSet": ["1234"],
        **extra,
    }


def cmpp_auth(
    clock: ManualClock, *, secret: str = "sim-cmpp-secret", ts: int | None = None
) -> dict[str, str]:
    stamp = ts if ts is not None else int(clock.now().timestamp())
    return {
        "account": CMPP.account,
        "ts": str(stamp),
        "sign": cmpp_submit_sign(secret, CMPP.account, stamp),
    }


def twilio_messages_url(base_url: str) -> str:
    return f"{base_url}/2010-04-01/Accounts/{TWILIO.account_sid}/Messages.json"


TWILIO_AUTH = (TWILIO.account_sid, "sim-twilio-token")
