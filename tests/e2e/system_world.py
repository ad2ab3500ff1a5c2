"""The whole system in this process for an end-to-end scenario: send tier, control plane, four
simulated suppliers and a webhook receiver for notifications, on a bus and database of choice.

The wiring is what `make run` starts (smsctl/system.py), with test settings: fast
simulators, short rule windows, alerts to a webhook fake, free ports, and either the memory
bus + SQLite or JetStream (a stream of its own, deleted at the end) + the test's MariaDB.
"""

from __future__ import annotations

import copy
import socket
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from controlplane.service import ControlPlane
from controlplane.settings import Settings
from controlplane.web.app import create_app
from sendtier.stack import RunningServices, make_sendtier_bus, running_services
from smsplatform.bus import JetStreamBus
from smsplatform.clock import Clock, system_clock
from smsplatform.config.settings import BusSettings, DatabaseSettings
from smsplatform.http.serving import Served, ServerGroup
from testbench.demo.platform import (
    DemoPlatform,
    DemoPorts,
    demo_platform,
    platform_from,
    stand_in_simulators,
)
from testbench.fakes.server import running_fake
from testbench.fakes.webhook import WebhookReceiverFake
from testbench.simulators import FaultPlan, RunningSimulator
from testbench.simulators.server import running_simulator

ADMIN_TOKEN = "e2e-admin-token-0123456789abcdef"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
SUPPLIERS = ("aliyun", "tencent", "twilio", "cmpp")
# Suppliers that answer at once and report within half a second: a fault shows in seconds.
FAST_PLAN: dict[str, Any] = {
    "submit": {"latency": {"kind": "fixed", "median_ms": 2}},
    "throttle": False,
    "per_recipient_limits": [],
    "receipts": {
        "delay": {"kind": "uniform", "median_ms": 300, "p99_ms": 500},
        "validity_s": 1.0,
        "batching": {"max_per_push": 50, "flush_interval_ms": 50},
    },
}
# The shipped rules (rules/supplier-*.yaml) over windows of seconds, one per fault scenario:
# delivery (a), submit acceptance (b), receipt silence (c), and the receipt ingest rate (d).
# Volumes are such that a healthy supplier (97 %) never crosses them by chance, and a canary's
# share of traffic is too small to.
SYSTEM_RULES = """
groups:
  - name: e2e-suppliers
    interval: 1s
    rules:
      # The health model cuts a 60 % supplier over after 12-20 receipts, and the supplier then
      # gets none: the rule must fire on those few. Over 10 s the fault's failures (8 on
      # average) stand out once most healthy receipts from before it have left the window; a
      # healthy 97 % supplier would need 12 failures in its 80 receipts to cross it. Early in
      # steady traffic a window holds ~20 receipts per (supplier, carrier): 3 failures among
      # them come up in one run of ten or so across the twelve pairs, 4 in one of ~150.
      - alert: SupplierDeliveryRateLow
        source: receipts
        by: [supplier, carrier]
        window: 10s
        when: failure_rate > 0.15 && failed >= 4
        value: delivery_rate
        for: 0s
        labels: {severity: critical}
        annotations:
          summary: "{{ labels.supplier }} to {{ labels.carrier }}: delivery {{ value | percent }}"
      - alert: SubmitErrorRateHigh
        source: submits
        by: [supplier]
        window: 5s
        when: reject_rate > 0.05 && total >= 20
        for: 0s
        labels: {severity: critical}
        annotations:
          summary: "{{ labels.supplier }} rejects {{ value | percent }} of submits"
      # A silent supplier is cut over 6-9 s after its receipts stop (one overdue span, then
      # half the next): a 3 s window sees the silence before that, once the receipts still
      # in flight at the onset are in, and `for` asks it to last two rounds, so receipts a
      # loaded machine delivers a second or two late in steady traffic raise nothing. As
      # carriers are cut over the supplier's traffic falls below the volume and the condition
      # ends; keep_firing_for holds the alert until the alerting stage has told people.
      - alert: ReceiptsMissing
        source: submits
        by: [supplier]
        window: 3s
        when: accepted >= 6 && receipts.total == 0
        for: 2s
        keep_firing_for: 10s
        labels: {severity: critical}
        annotations:
          summary: "{{ labels.supplier }} accepted {{ value }} messages in 3s but sent no receipts"
  - name: e2e-platform
    interval: 1s
    rules:
      # Steady traffic is 45-60 receipts/s; scenario (d) triples it. (The window's newest
      # second is still filling: the rate reads a little low.)
      - alert: ReceiptIngestRateHigh
        source: receipts
        window: 5s
        when: rate_per_s > 80.0
        for: 0s
        labels: {severity: warning}
        annotations:
          summary: "receipts arrive at {{ value }}/s"
"""
ALERTING = """
route:
  receiver: ops
  group_by: [alertname, supplier, carrier]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 4h
receivers:
  - name: ops
    webhook_configs:
      - url: {url}/ops
        send_resolved: true
"""


@dataclass(frozen=True)
class Backend:
    """Where the system keeps its events and state."""

    name: str
    database_url: str
    bus: BusSettings


def memory_backend(directory: Path) -> Backend:
    return Backend("memory+sqlite", f"sqlite:///{directory}/e2e.db", BusSettings())


def jetstream_backend(mariadb_url: str, nats_url: str, stream: str) -> Backend:
    bus = BusSettings(backend="jetstream", url=nats_url, stream=stream, namespace=stream)
    return Backend("jetstream+mariadb", mariadb_url, bus)


@dataclass
class RunningSystem:
    """Handles on every part of a running system, for driving it and reading what it did."""

    backend: Backend
    platform: DemoPlatform
    control_plane: ControlPlane
    control_url: str
    services: RunningServices
    simulators: dict[str, RunningSimulator]
    notifications: WebhookReceiverFake
    http: httpx.AsyncClient  # the control plane's API, as an admin
    clock: Clock
    plans: dict[str, FaultPlan] = field(default_factory=dict)

    @property
    def api_url(self) -> str:
        return self.services.urls["api"]

    @property
    def tenant_token(self) -> str:
        return self.platform.tenant_tokens["demo"]

    def set_plan(self, supplier: str, plan: Mapping[str, Any]) -> FaultPlan:
        """Replace a simulator's fault plan while it runs (what POST /_sim/plan does)."""
        applied = self.simulators[supplier].set_plan(plan)
        self.plans[supplier] = applied
        return applied


def free_ports(count: int) -> list[int]:
    """Ports free right now on 127.0.0.1 (held together while picked, so all differ)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def e2e_platform(backend: Backend, directory: Path) -> DemoPlatform:
    """The demo platform on free ports, the backend's bus and database, and a routing cache."""
    api, dispatch, receipts, persist, *sims = free_ports(8)
    ports = DemoPorts(api, dispatch, receipts, persist, (sims[0], sims[1], sims[2], sims[3]))
    demo = demo_platform(ports, DatabaseSettings(url=backend.database_url), backend.bus)
    document = copy.deepcopy(demo.document)
    document["log_level"] = "WARNING"
    document["dispatch"]["routing_cache_path"] = str(directory / "routing-cache.json")
    for supplier in document["suppliers"]:
        supplier["timeout_s"] = 10.0  # a loaded machine must not turn slow answers into faults
    return platform_from(document, demo.tenant_tokens)


def fast_cutover(platform: DemoPlatform) -> dict[str, Any]:
    """Cut-over over the send tier's own routes, on a scale of seconds: a short dwell, a short
    cool-down and canary steps of a second each (10 %, 50 %, then all: 1 % of this traffic
    would take minutes to show health)."""
    routes = [route.model_dump() for route in platform.settings.dispatch.default_routes]
    return {
        "routes": routes,
        # Receipts count as missing 6 s after the submit, judged over one such span.
        "health": {
            "receipt_overdue_min_s": 6.0,
            "recent_window_s": 10,
            # twilio carries 2 messages/s per carrier here: 12 in one overdue span.
            "receipts_missing_min_submits": 6,
        },
        "safety": {"min_dwell_s": 1.0},
        "failback": {"cooldown_s": 2.0, "steps": [0.1, 0.5, 1.0], "window_s": 1.0},
        "notice_hold_s": 30.0,
        "tick_s": 0.2,
    }


def control_plane_settings(
    platform: DemoPlatform,
    backend: Backend,
    directory: Path,
    notifications_url: str,
    rules_yaml: str,
    overrides: Mapping[str, Any],
) -> Settings:
    """The control plane watching the send tier's bus, alerting to the webhook fake."""
    rules = directory / "rules.yaml"
    rules.write_text(rules_yaml, encoding="utf-8")
    alerting = directory / "alerting.yaml"
    alerting.write_text(ALERTING.replace("{url}", notifications_url), encoding="utf-8")
    raw: dict[str, Any] = {
        "database": {"url": backend.database_url},
        "bus": backend.bus.model_dump(),
        # The send tier's persistence stores the events; the control plane only watches them.
        "ingest": {"persist_enabled": False},
        "rules": {"paths": [str(rules)], "watch": False},
        "prometheus": {"url": "http://127.0.0.1:9", "query_timeout_s": 1.0},
        "auth": {"tokens": [{"name": "e2e", "token": ADMIN_TOKEN, "scopes": ["admin"]}]},
        "alerting": {"config": str(alerting), "ack_secret": "e2e-ack-secret-0123456789"},
        "cutover": fast_cutover(platform),
        "log_level": "WARNING",
    }
    for section, values in overrides.items():
        raw[section] = {**raw.get(section, {}), **values}
    return Settings.model_validate(raw)


@asynccontextmanager
async def running_system(
    backend: Backend,
    directory: Path,
    *,
    rules_yaml: str = SYSTEM_RULES,
    settings_overrides: Mapping[str, Any] | None = None,
    plans: Mapping[str, Mapping[str, Any]] | None = None,
    clock: Clock = system_clock,
) -> AsyncIterator[RunningSystem]:
    """Start everything, yield handles, then stop it all (front doors first) and clean up."""
    platform = e2e_platform(backend, directory)
    fast = FaultPlan.model_validate(FAST_PLAN)
    given = {name: FaultPlan.model_validate(plan) for name, plan in (plans or {}).items()}
    sites = stand_in_simulators(platform.settings, given, default_plan=fast)
    bus = make_sendtier_bus(platform.settings, clock)
    await bus.start()
    try:
        async with AsyncExitStack() as stack:
            notifications = WebhookReceiverFake(clock)
            notifications_url = await stack.enter_async_context(running_fake(notifications.app))
            settings = control_plane_settings(
                platform,
                backend,
                directory,
                notifications_url,
                rules_yaml,
                settings_overrides or {},
            )
            simulators = {}
            for name, site in sites.items():
                simulators[name] = await stack.enter_async_context(
                    running_simulator(site.config, clock, host=site.host, port=site.port)
                )
            services = await stack.enter_async_context(
                running_services(platform.settings, clock=clock, bus=bus)
            )
            # As `make run`: the send tier's persistence stores, in this process.
            control_plane = ControlPlane(
                settings,
                environ={},
                clock=clock,
                bus=bus,
                sendtier_persist=services.persist_registry,
            )
            front = ServerGroup(
                [Served("control-plane", create_app(control_plane), "127.0.0.1", free_ports(1)[0])]
            )
            urls = await front.start()
            stack.push_async_callback(front.stop)
            http = await stack.enter_async_context(
                httpx.AsyncClient(base_url=urls["control-plane"], headers=ADMIN, timeout=10.0)
            )
            yield RunningSystem(
                backend,
                platform,
                control_plane,
                urls["control-plane"],
                services,
                simulators,
                notifications,
                http,
                clock,
                {name: sites[name].config.plan for name in sites},
            )
    finally:
        if isinstance(bus, JetStreamBus):
            await bus.delete_stream()
        await bus.close()
