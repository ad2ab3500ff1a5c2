"""Two supplier simulators, the real send tier (API + dispatch) on a memory bus, and helpers."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sendtier.dispatch.routing_feed import encode_routing_table
from sendtier.settings import SendTierSettings
from sendtier.stack import running_services
from smsplatform.bus import ROUTING, MemoryBus
from smsplatform.contracts import Route, RouteEntry, RoutingTable, SupplierState
from testbench.simulators import RunningSimulator, SimulatorConfig, running_simulator

ALERTS_TOKEN = "alerts-token-0123456789abcdef"
EJECTED, HEALTHY = "aliyun-main", "tencent-backup"
ACCOUNTS: dict[str, dict[str, Any]] = {
    EJECTED: {
        "dialect": "aliyun",
        "access_key_id": "LTAI-alert-test",
        "access_key_secret": "aliyun-secret-0123456789",
    },
    HEALTHY: {
        "dialect": "tencent",
        "secret_id": "AKID-alert-test",
        "secret_key": "tencent-secret-0123456789",
        "sdk_app_id": "1400000001",
    },
}
# The simulators' magic numbers: no injected errors or per-number limits, so only routing counts.
PHONES = ("+8613800000001", "+8613800000002")
FAST_PLAN: dict[str, Any] = {"submit": {"latency": {"kind": "fixed", "median_ms": 0}}}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def table(version: int, states: dict[str, SupplierState]) -> RoutingTable:
    """A routing table for alert SMS (class notification, every carrier)."""
    entries = [RouteEntry(supplier=name, state=state, weight=1.0) for name, state in states.items()]
    return RoutingTable(
        version=version,
        at=datetime.now(UTC),
        routes=[Route(carrier="*", message_class="notification", suppliers=entries)],
        changed_by="test",
        reason="supplier ejected",
    )


async def publish_table(bus: MemoryBus, routing: RoutingTable) -> None:
    await bus.publish(ROUTING, encode_routing_table(routing))


async def eventually(check: Callable[[], bool], what: str, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


@dataclass
class Simulators:
    by_name: dict[str, RunningSimulator]

    def accepted(self, name: str) -> int:
        return int(self.by_name[name].state()["counters"]["accepted"])


@asynccontextmanager
async def simulators() -> AsyncIterator[Simulators]:
    async with AsyncExitStack() as stack:
        running = {}
        for name, account in ACCOUNTS.items():
            config = SimulatorConfig.model_validate(
                {"account": account, "plan": FAST_PLAN, "background_push": False}
            )
            running[name] = await stack.enter_async_context(
                running_simulator(config, graceful_shutdown_s=0)
            )
        yield Simulators(running)


def sendtier_settings(sims: Simulators, database_url: str) -> SendTierSettings:
    """Both suppliers on every route, the `alerts` tenant and its `alert` template."""
    return SendTierSettings.model_validate(sendtier_yaml(sims, database_url))


def sendtier_yaml(sims: Simulators, database_url: str) -> dict[str, Any]:
    """The send tier's settings as its YAML file holds them."""
    return {
        "database": {"url": database_url},
        "api": {"port": free_port()},
        "dispatch": {
            "port": free_port(),
            "default_routes": [
                {
                    "carrier": "*",
                    "message_class": "notification",
                    "suppliers": {EJECTED: 1, HEALTHY: 1},
                }
            ],
        },
        "suppliers": [
            {
                "name": name,
                "account": account,
                "base_url": sims.by_name[name].base_url,
                "timeout_s": 5,
            }
            for name, account in ACCOUNTS.items()
        ],
        "tenants": [{"name": "alerts", "token": ALERTS_TOKEN, "signatures": ["监控"]}],
        "templates": [
            {"id": "alert", "message_class": "notification", "text": "[{severity}] {summary}"}
        ],
    }


@asynccontextmanager
async def send_tier(settings: SendTierSettings, bus: MemoryBus) -> AsyncIterator[str]:
    """The send API and dispatch serving on free ports; yields the API's URL."""
    async with running_services(settings, ("api", "dispatch"), bus=bus) as services:
        yield services.urls["api"]
