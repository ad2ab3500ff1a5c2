"""The degradation policy applied where receipts are stored: sample, shed, never OTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import msgspec
import pytest
from persist_helpers import T0, metric, policy, receipt, running, settings_for

from sendtier.persist import DegradationGate
from sendtier.persist.degradation import sample_point
from sendtier.storage import SENDTIER_HISTORY, Database, ReceiptRepository
from smsplatform.bus import DEGRADATION, RECEIPTS, MemoryBus
from smsplatform.clock import ManualClock
from smsplatform.contracts import Receipt, encode_batch

MARKETING = range(0, 2000)
NOTIFICATION = range(2000, 2100)
OTP = range(2100, 2200)


@pytest.fixture
async def bus() -> AsyncIterator[MemoryBus]:
    memory_bus = MemoryBus()
    await memory_bus.start()
    yield memory_bus
    await memory_bus.close()


@pytest.fixture
def database(sqlite_url: str) -> Database:
    db = Database(sqlite_url)
    db.upgrade(SENDTIER_HISTORY)
    return db


def mixed_receipts(offset: int = 0) -> list[Receipt]:
    """2000 marketing, 100 notification and 100 OTP receipts, ids shifted by `offset`."""
    return (
        [receipt(offset + n, message_class="marketing") for n in MARKETING]
        + [receipt(offset + n, message_class="notification") for n in NOTIFICATION]
        + [receipt(offset + n, message_class="otp") for n in OTP]
    )


def stored_by_class(database: Database) -> dict[str, int]:
    counts = {"marketing": 0, "notification": 0, "otp": 0}
    for stored in ReceiptRepository(database).for_supplier("aliyun-main", T0, limit=100_000):
        counts[stored.message_class] += 1
    return counts


async def test_sample_stores_the_ratio_of_marketing_receipts_and_every_other_class(
    database: Database, bus: MemoryBus
) -> None:
    await bus.publish(DEGRADATION, msgspec.msgpack.encode(policy(1, "sample", sample_ratio=0.3)))
    batch = mixed_receipts()
    await bus.publish(RECEIPTS, encode_batch(batch))

    async with running(settings_for(str(database.url)), bus, database, ManualClock(T0)) as service:
        pass

    counts = stored_by_class(database)
    assert 540 <= counts["marketing"] <= 660  # 0.3 of 2000, ± 3 standard deviations
    assert (counts["notification"], counts["otp"]) == (100, 100)
    expected = sum(1 for r in batch[:2000] if sample_point(r.message_id) < 0.3)
    assert counts["marketing"] == expected  # decided by message id: the same on every replica
    shed = metric(
        service, "sendtier_persist_receipts_shed_total", message_class="marketing", level="sample"
    )
    assert shed == 2000 - counts["marketing"]


async def test_shed_levels_drop_marketing_then_notification_but_never_otp(
    database: Database, bus: MemoryBus
) -> None:
    settings = settings_for(str(database.url))
    clock = ManualClock(T0)
    await bus.publish(DEGRADATION, msgspec.msgpack.encode(policy(4, "shed_marketing")))
    await bus.publish(RECEIPTS, encode_batch(mixed_receipts()))
    async with running(settings, bus, database, clock):
        pass
    assert stored_by_class(database) == {"marketing": 0, "notification": 100, "otp": 100}

    # v5 sheds notifications too; v3 arrives late and is ignored: the newest version wins.
    await bus.publish(DEGRADATION, encode_batch([policy(5, "shed_notification")]))  # type: ignore[type-var]
    await bus.publish(DEGRADATION, msgspec.msgpack.encode(policy(3, "normal")))
    await bus.publish(RECEIPTS, encode_batch(mixed_receipts(offset=10_000)))
    async with running(settings, bus, database, clock) as service:
        pass

    assert stored_by_class(database) == {"marketing": 0, "notification": 100, "otp": 200}
    assert service.gate.policy is not None and service.gate.policy.version == 5
    for message_class in ("marketing", "notification"):
        shed = metric(
            service,
            "sendtier_persist_receipts_shed_total",
            message_class=message_class,
            level="shed_notification",
        )
        assert shed == len(MARKETING if message_class == "marketing" else NOTIFICATION)
    assert metric(service, "sendtier_persist_receipts_shed_total", message_class="otp") == 0


async def test_a_restarted_service_still_applies_the_policy_it_had(
    database: Database, bus: MemoryBus
) -> None:
    settings = settings_for(str(database.url))
    clock = ManualClock(T0)
    await bus.publish(DEGRADATION, msgspec.msgpack.encode(policy(1, "shed_marketing")))
    async with running(settings, bus, database, clock):
        pass

    async with running(settings, bus, database, clock) as restarted:
        level = restarted.gate.level()

    assert level == "shed_marketing"


def test_a_policy_past_its_until_time_counts_as_normal() -> None:
    clock = ManualClock(T0)
    gate = DegradationGate(clock)
    gate.update(policy(1, "shed_notification", until=T0 + timedelta(minutes=10)))
    assert gate.level() == "shed_notification"

    clock.advance(600)

    kept, shed = gate.split([receipt(1, message_class="marketing")])
    assert gate.level() == "normal"
    assert (len(kept), sum(shed.values())) == (1, 0)
