"""The distributed path: the policy over JetStream reaches the receipt gateway and storage."""

from __future__ import annotations

from collections.abc import Callable

from degradation_world import T0, degradation_settings, receipt, until
from prometheus_client import CollectorRegistry

from controlplane.actions.degradation import build_degradation
from controlplane.actions.degradation_readings import ReceiptRate
from controlplane.engine.runtime.sink import LoggingAlertSink
from controlplane.settings import PrometheusSettings
from controlplane.storage import CONTROL_PLANE_HISTORY, Database
from sendtier.persist import PersistService
from sendtier.receipts import ReceiptGatewayService
from sendtier.settings import SendTierSettings
from sendtier.storage import SENDTIER_HISTORY
from smsplatform.bus import RECEIPTS, JetStreamBus
from smsplatform.bus.liveness import LivenessRegistry
from smsplatform.clock import ManualClock
from smsplatform.contracts import encode_batch


async def test_a_level_change_reaches_the_gateway_and_persistence_and_survives_their_restart(
    mariadb_url: str, nats_url: str, unique_name: str
) -> None:
    database = Database(mariadb_url)
    database.upgrade(CONTROL_PLANE_HISTORY)
    database.upgrade(SENDTIER_HISTORY)
    bus = JetStreamBus(nats_url, stream=unique_name, namespace=unique_name)
    await bus.start()
    clock = ManualClock(T0)
    sendtier = SendTierSettings.model_validate(
        {
            "database": {"url": mariadb_url},
            "bus": {"backend": "jetstream", "url": nats_url, "stream": unique_name},
        }
    )
    control = build_degradation(
        degradation_settings(),
        PrometheusSettings(),
        bus=bus,
        database=database,
        sink=LoggingAlertSink(),
        registry=CollectorRegistry(),
        persist=None,
        clock=clock,
        liveness=LivenessRegistry(clock),
    )
    rate = control.sources["ingest_rate"]
    assert isinstance(rate, ReceiptRate)
    gateway = ReceiptGatewayService(sendtier, bus, database, {}, clock)
    persist = PersistService(sendtier, bus, database, clock)

    async def traffic(receipts: int) -> None:
        expected = rate.counted + receipts
        await bus.publish(
            RECEIPTS, encode_batch([receipt(f"m-{n}", "otp") for n in range(receipts)])
        )
        await until(lambda: rate.counted >= expected, timeout_s=5)
        clock.advance(10)
        await control.evaluate()

    def level_everywhere(level: str) -> Callable[[], bool]:
        return lambda: gateway.gate.level() == level and persist.gate.level() == level

    try:
        await control.start(schedule=False)
        await gateway.start()
        await persist.start()
        await control.evaluate()
        await traffic(450)  # 45 receipts/s: sample
        await until(level_everywhere("sample"), timeout_s=5)
        await gateway.stop()
        await persist.stop()
        # Restarted, they read the policy in force again before taking any work.
        gateway = ReceiptGatewayService(sendtier, bus, database, {}, clock)
        persist = PersistService(sendtier, bus, database, clock)
        await gateway.start()
        await persist.start()
        restarted = (gateway.gate.level(), persist.gate.level())
        await traffic(100)  # 10 receipts/s: back to normal
        await until(level_everywhere("normal"), timeout_s=5)
        levels = [v.policy.level for v in control.history()]
    finally:
        await gateway.stop()
        await persist.stop()
        await control.stop()
        await bus.delete_stream()
        await bus.close()
        database.dispose()

    assert restarted == ("sample", "sample")
    assert levels == ["normal", "sample"]
