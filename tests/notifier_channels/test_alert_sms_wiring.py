"""The alerting stage as the control plane builds it: alert SMS follow `cp.routing` on the bus."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import yaml
from sms_world import (
    ALERTS_TOKEN,
    EJECTED,
    HEALTHY,
    Simulators,
    eventually,
    free_port,
    publish_table,
    send_tier,
    sendtier_settings,
    sendtier_yaml,
    simulators,
    table,
)

from controlplane.alerting.wiring import Alerting, build_alerting
from controlplane.engine.alerts import Alert, AlertState, AlertTransition, fingerprint
from controlplane.engine.runtime.sink import AlertNotice
from controlplane.settings import AlertingSettings
from controlplane.storage import CONTROL_PLANE_HISTORY, Database
from smsplatform.bus import MemoryBus
from smsplatform.bus.liveness import LivenessRegistry
from smsplatform.clock import ManualClock

ALERTING = """
route:
  receiver: sms-primary
  group_by: [alertname]
  group_wait: 0s
receivers:
  - name: sms-primary
    sms_configs:
      - to: ['+8613800000001']
"""


def firing(at: datetime) -> AlertNotice:
    labels = {"alertname": "SupplierDown", "severity": "critical", "supplier": EJECTED}
    alert = Alert(
        fingerprint(labels), labels, AlertState.FIRING, 1.0, active_since=at, started_at=at
    )
    transition = AlertTransition(alert, AlertState.PENDING, at)
    return AlertNotice("suppliers/down", transition, {"summary": "aliyun-main is down"})


async def no_sleep(_: float) -> None:
    return None


async def fire_under_table(stage: Alerting, bus: MemoryBus, version: int) -> int:
    """Eject aliyun-main in table `version`, then fire an alert; the messages the tick sent."""
    await publish_table(bus, table(version, {EJECTED: "ejected", HEALTHY: "active"}))
    await eventually(lambda: stage.supplier_health.version == version, "the table in the view")
    await stage.stage.deliver([firing(stage.clock.now())])
    return await stage.stage.tick()


@asynccontextmanager
async def alerting(
    tmp_path: Path, sims: Simulators, sqlite_url: str, bus: MemoryBus, sms_api_url: str
) -> AsyncIterator[Alerting]:
    """The stage built by `build_alerting` from settings files, started, driven by hand."""
    (tmp_path / "alerting.yaml").write_text(ALERTING)
    sendtier_file = tmp_path / "sendtier.yaml"
    sendtier_file.write_text(yaml.safe_dump(sendtier_yaml(sims, sqlite_url)))
    settings = AlertingSettings.model_validate(
        {
            "config": str(tmp_path / "alerting.yaml"),
            "sms_api_url": sms_api_url,
            "sms_token": ALERTS_TOKEN,
            "sms_direct_config": str(sendtier_file),
        }
    )
    database = Database(f"sqlite:///{tmp_path}/controlplane.db")
    database.upgrade(CONTROL_PLANE_HISTORY)
    # Now, not a fixed instant: the supplier-direct adapters sign with this clock and the
    # simulators check their timestamps against the wall clock.
    clock = ManualClock(datetime.now(UTC))
    built = build_alerting(
        settings, database, clock, sleep=no_sleep, bus=bus, liveness=LivenessRegistry(clock)
    )
    assert built is not None
    await built.start(tick=False)
    try:
        yield built
    finally:
        await built.stop()
        database.dispose()


async def test_an_alert_sms_goes_through_the_send_tier_on_the_supplier_left_in_the_table(
    tmp_path: Path, sqlite_url: str, bus: MemoryBus
) -> None:
    async with (
        simulators() as sims,
        send_tier(sendtier_settings(sims, sqlite_url), bus) as api,
        alerting(tmp_path, sims, sqlite_url, bus, api) as stage,
    ):
        assert await fire_under_table(stage, bus, 7) == 1
        await eventually(lambda: sims.accepted(HEALTHY) == 1, "the alert SMS at tencent")
        assert sims.accepted(EJECTED) == 0


async def test_an_alert_sms_goes_supplier_direct_when_the_send_tier_is_unreachable(
    tmp_path: Path, sqlite_url: str, bus: MemoryBus
) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    async with simulators() as sims, alerting(tmp_path, sims, sqlite_url, bus, down) as stage:
        assert await fire_under_table(stage, bus, 8) == 1
        assert (sims.accepted(HEALTHY), sims.accepted(EJECTED)) == (1, 0)
