"""The readings triggers compare: weighted receipt rate, bus lag, persist latency, PromQL."""

from __future__ import annotations

from datetime import timedelta

import msgspec
import pytest
from degradation_world import T0, receipt, until
from prometheus_client import CollectorRegistry, Histogram

from controlplane.actions.degradation_readings import (
    CONTROL_PLANE_PERSIST,
    SENDTIER_PERSIST,
    BusLag,
    PersistFigures,
    PersistLatency,
    PromQLReading,
    ReceiptRate,
    build_sources,
)
from controlplane.engine.promql import PrometheusClient
from controlplane.settings import DegradationTriggers, PrometheusSettings
from smsplatform.bus import RECEIPTS, MemoryBus
from smsplatform.bus.liveness import LivenessRegistry
from smsplatform.clock import ManualClock
from smsplatform.config.yamlsource import ConfigError
from smsplatform.contracts import encode_batch


async def test_the_rate_counts_weights_and_skips_a_backlog_received_before_it_started() -> None:
    bus = MemoryBus()
    await bus.start()
    clock = ManualClock(T0)
    old = [
        msgspec.structs.replace(receipt(f"old-{n}", "otp"), received_at=T0 - timedelta(hours=1))
        for n in range(1000)
    ]
    await bus.publish(RECEIPTS, encode_batch(old))
    rate = ReceiptRate(bus, clock, LivenessRegistry(clock))
    await rate.start()
    try:
        new = [
            msgspec.structs.replace(receipt(f"new-{n}", "marketing", weight=4.0), received_at=T0)
            for n in range(25)
        ]
        await bus.publish(RECEIPTS, encode_batch(new))
        await until(lambda: rate.counted >= 100)
        clock.advance(10)
        reading = await rate.read(clock.now())
    finally:
        await rate.stop()
        await bus.close()

    assert reading == 10.0  # 25 receipts standing for 4 each, over 10 s


async def test_bus_lag_is_what_the_durable_has_not_acked_and_unknown_durables_read_none() -> None:
    bus = MemoryBus()
    await bus.start()
    subscription = await bus.subscribe(RECEIPTS, "sendtier-persist-receipts")
    await bus.publish_many(RECEIPTS, [encode_batch([receipt(f"m-{n}", "otp")]) for n in range(3)])
    try:
        lag = await BusLag(bus, RECEIPTS, "sendtier-persist-receipts").read(T0)
        unknown = await BusLag(bus, RECEIPTS, "nobody").read(T0)
    finally:
        await subscription.close()
        await bus.close()

    assert (lag, unknown) == (3.0, None)


async def test_persist_latency_is_the_mean_batch_time_since_the_last_reading() -> None:
    registry = CollectorRegistry()
    batches = Histogram(CONTROL_PLANE_PERSIST, "", ["kind"], registry=registry)
    latency = PersistLatency(PersistFigures(registry, CONTROL_PLANE_PERSIST))
    batches.labels("receipts").observe(0.5)
    first = await latency.read(T0)
    batches.labels("receipts").observe(0.1)
    batches.labels("receipts").observe(0.3)
    second = await latency.read(T0)
    idle = await latency.read(T0)

    assert (first, second, idle) == (0.5, pytest.approx(0.2), 0.0)


async def test_a_promql_reading_from_an_unreachable_prometheus_is_none() -> None:
    reading = PromQLReading(PrometheusClient("http://127.0.0.1:9", timeout_s=0.5), "up")
    try:
        assert await reading.read(T0) is None
    finally:
        reading.close()


async def test_persist_latency_reads_the_send_tiers_persistence_when_it_runs_here() -> None:
    registry = CollectorRegistry()
    batches = Histogram(SENDTIER_PERSIST, "", ["kind"], registry=registry)
    latency = PersistLatency(PersistFigures(registry, SENDTIER_PERSIST))
    batches.labels("receipts").observe(0.4)

    assert await latency.read(T0) == 0.4


def test_persist_latency_with_no_persistence_here_needs_its_promql_naming_the_field() -> None:
    triggers = DegradationTriggers.model_validate(
        {"persist_latency": {"levels": {"sample": {"enter": 0.5, "exit": 0.2}}}}
    )
    with pytest.raises(ConfigError) as raised:
        build_sources(
            triggers,
            MemoryBus(),
            None,
            PrometheusSettings(),
            ManualClock(T0),
            LivenessRegistry(),
        )
    assert "degradation.triggers.persist_latency.promql" in str(raised.value)
    assert "sendtier_persist_batch_seconds" in str(raised.value)  # the query to give
