"""Every HTTP service of smsctl served for real, in a thread of its own, on one MariaDB database.

The control plane (with alerting, the console and a routing table) on its memory bus, and the
send tier's api, dispatch, receipts and persist on another: each app on a free 127.0.0.1 port
under uvicorn, lifespans included. Tests talk to them over HTTP with timeouts, so a hang is a
failure, not a stuck run. The supplier simulators and the notifier fakes are not served here:
they stand in for the outside world and are no part of what smsctl exposes.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from controlplane.service import ControlPlane
from controlplane.settings import Settings
from controlplane.web.app import create_app
from sendtier.settings import SendTierSettings
from sendtier.stack import SERVICES, build_service_app
from sendtier.storage import SENDTIER_HISTORY, Database
from smsplatform.bus import MemoryBus
from smsplatform.http.serving import Served, ServerGroup

INGEST_TOKEN = "security-ingest-token-0123456789"
OPERATOR_TOKEN = "security-operator-token-0123456789"
ADMIN_TOKEN = "security-admin-token-0123456789"
TENANT_TOKEN = "security-tenant-token-0123456789"
ACK_SECRET = "security-ack-secret-0123456789"
VOICE_CALLBACK_TOKEN = "security-voice-callback-token-0123"
ALIYUN_CALLBACK_TOKEN = "aliyun-callback-token-0123456789"
TENCENT_CALLBACK_TOKEN = "tencent-callback-token-0123456789"
TWILIO_AUTH_TOKEN = "twilio-auth-token-0123456789abcdef"
CMPP_SECRET = "cmpp-push-secret-0123456789"
PUBLIC_RECEIPTS_URL = "https://receipts.example.com"
START_TIMEOUT_S = 60.0

RULES = """
groups:
  - name: delivery
    interval: 1h
    rules:
      - alert: SupplierDeliveryRateLow
        source: receipts
        by: [supplier, carrier]
        window: 60s
        when: delivery_rate < 0.9 && total >= 50
        for: 0s
        labels: {severity: critical}
        annotations:
          summary: "{{ labels.supplier }}: delivery {{ value | percent }}"
"""

# Notifications go to a webhook on the discard port: nothing outside is ever reached.
# Escalation with a voice step: ack links and the voice callback are on, as in production.
ALERTING = """
route:
  receiver: ops
  group_by: [alertname]
  escalation: page
receivers:
  - name: ops
    webhook_configs:
      - url: http://127.0.0.1:9/hook
  - name: phone
    voice_configs: [{to: ['+8613800138000'], tts_code: TTS_100001}]
escalations:
  - name: page
    steps: [{after: 5m, receivers: [phone]}]
"""

SUPPLIERS: list[dict[str, Any]] = [
    {
        "name": "aliyun-main",
        "account": {"dialect": "aliyun", "access_key_id": "ak", "access_key_secret": "sk"},
        "base_url": "http://127.0.0.1:9",
        "callback_token": ALIYUN_CALLBACK_TOKEN,
    },
    {
        "name": "tencent-main",
        "account": {
            "dialect": "tencent",
            "secret_id": "sid",
            "secret_key": "skey",
            "sdk_app_id": "1400000000",
        },
        "base_url": "http://127.0.0.1:9",
        "callback_token": TENCENT_CALLBACK_TOKEN,
    },
    {
        "name": "twilio-us",
        "account": {
            "dialect": "twilio",
            "account_sid": "AC" + "0" * 32,
            "auth_token": TWILIO_AUTH_TOKEN,
            "from_number": "+14155550100",
        },
        "base_url": "http://127.0.0.1:9",
    },
    {
        "name": "cmpp-gw",
        "account": {"dialect": "cmpp", "account": "901234", "secret": CMPP_SECRET},
        "base_url": "http://127.0.0.1:9",
    },
]


def control_plane_settings(database_url: str, directory: Path) -> Settings:
    rules = directory / "rules.yaml"
    rules.write_text(RULES)
    alerting = directory / "alerting.yaml"
    alerting.write_text(ALERTING)
    return Settings.model_validate(
        {
            "database": {"url": database_url},
            "bus": {"backend": "memory", "ack_wait_s": 1.0},
            "ingest": {"max_body_bytes": 256 * 1024, "max_events": 1000},
            "rules": {"paths": [str(rules)], "watch": False},
            "prometheus": {"url": "http://127.0.0.1:9", "query_timeout_s": 1.0},
            "auth": {
                "tokens": [
                    {"name": "ingester", "token": INGEST_TOKEN, "scopes": ["ingest"]},
                    {"name": "operator", "token": OPERATOR_TOKEN, "scopes": ["operator"]},
                    {"name": "admin", "token": ADMIN_TOKEN, "scopes": ["admin"]},
                ]
            },
            "alerting": {
                "config": str(alerting),
                "ack_secret": ACK_SECRET,
                "voice_callback_token": VOICE_CALLBACK_TOKEN,
                "public_url": "http://127.0.0.1:8080",
                "voice_api_url": "http://127.0.0.1:9",
            },
            "cutover": {
                "routes": [
                    {
                        "carrier": "cmcc",
                        "message_class": "otp",
                        "suppliers": {"aliyun-main": 1.0, "tencent-main": 1.0},
                    }
                ]
            },
        }
    )


def send_tier_settings(database_url: str) -> SendTierSettings:
    return SendTierSettings.model_validate(
        {
            "database": {"url": database_url},
            "bus": {"backend": "memory", "ack_wait_s": 1.0},
            "receipts": {"public_url": PUBLIC_RECEIPTS_URL, "max_body_bytes": 256 * 1024},
            "suppliers": SUPPLIERS,
            "tenants": [{"name": "shop", "token": TENANT_TOKEN, "signatures": ["好店"]}],
            "templates": [
                {"id": "otp_login", "message_class": "otp", "text": "您的验证码是{code}。"},
                {"id": "promo", "message_class": "marketing", "text": "大促{discount}折，回T退订"},
            ],
            "dispatch": {
                "default_routes": [
                    {"carrier": "cmcc", "message_class": "otp", "suppliers": {"aliyun-main": 1}}
                ]
            },
        }
    )


@dataclass(frozen=True)
class Stack:
    """Where each service listens (`controlplane`, `api`, `dispatch`, `receipts`, `persist`)."""

    urls: dict[str, str]
    apps: dict[str, FastAPI]
    control_plane: ControlPlane
    database_url: str


@contextmanager
def serving_stack(database_url: str, directory: Path) -> Iterator[Stack]:
    """Serve every service until the block exits; then stop them, draining what they hold."""
    started: dict[str, Any] = {}
    ready = threading.Event()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    async def run() -> None:
        control_plane = ControlPlane(control_plane_settings(database_url, directory), environ={})
        settings = send_tier_settings(database_url)
        database = Database(database_url)
        await asyncio.to_thread(database.upgrade, SENDTIER_HISTORY)
        bus = MemoryBus()
        await bus.start()
        served = [Served("controlplane", create_app(control_plane))]
        served += [
            Served(name, build_service_app(name, settings, bus, database)) for name in SERVICES
        ]
        group = ServerGroup(served)
        try:
            apps = {item.name: item.app for item in served}
            started["stack"] = Stack(await group.start(), apps, control_plane, database_url)
            ready.set()
            await stop.wait()
        finally:
            await group.stop()
            await bus.close()
            database.dispose()

    def main() -> None:
        try:
            loop.run_until_complete(run())
        except BaseException as exc:
            started["error"] = exc
        finally:
            ready.set()
            loop.close()

    thread = threading.Thread(target=main, name="security-stack", daemon=True)
    thread.start()
    ready.wait(START_TIMEOUT_S)
    if "stack" not in started:
        raise RuntimeError("the services did not start") from started.get("error")
    try:
        yield started["stack"]
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(START_TIMEOUT_S)
        if "error" in started:
            raise started["error"]
