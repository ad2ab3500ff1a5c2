"""The gateway under degradation: `sample` publishes a weighted sample of marketing receipts."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import msgspec
import pytest
from gateway_helpers import (
    ALIYUN,
    T0,
    aliyun_push,
    aliyun_report,
    gateway,
    metric,
    publish_submits,
    published,
    settings_for,
    submit_result,
    until,
)

from sendtier.persist.degradation import DegradationGate, sample_point
from sendtier.storage import Database
from smsplatform.bus import DEGRADATION, MemoryBus
from smsplatform.clock import ManualClock
from smsplatform.contracts import DegradationLevel, DegradationPolicy, MessageClass, Receipt

PUSH_SIZE = 200
RATIO = 0.25


def policy(level: DegradationLevel, ratio: float = 1.0, **changes: Any) -> DegradationPolicy:
    fields: dict[str, Any] = {"version": 7, "at": T0, "level": level, "sample_ratio": ratio}
    return DegradationPolicy(**{**fields, **changes})


@dataclass
class Outcome:
    """What the gateway did with the pushed receipts."""

    receipts: list[Receipt]
    unsampled: float
    published_metric: float
    version_metric: float

    def of_class(self, message_class: str) -> list[Receipt]:
        return [r for r in self.receipts if r.message_class == message_class]


async def push_traffic(
    database: Database,
    bus: MemoryBus,
    clock: ManualClock,
    in_force: DegradationPolicy,
    classes: dict[MessageClass, int],
) -> Outcome:
    """`in_force` on cp.degradation, then one pushed receipt per submit of each class."""
    submits = []
    for message_class, count in classes.items():
        first = len(submits)
        submits += [
            submit_result(first + n, supplier=ALIYUN, message_class=message_class)
            for n in range(count)
        ]
    await bus.publish(DEGRADATION, msgspec.msgpack.encode(in_force))
    async with gateway(settings_for(str(database.url)), bus, database, clock) as (client, service):
        await publish_submits(bus, submits)
        await until(lambda: len(service.index) >= 2 * len(submits))
        for first in range(0, len(submits), PUSH_SIZE):
            reports = [
                aliyun_report(s.supplier_message_id or "", out_id=s.message_id)
                for s in submits[first : first + PUSH_SIZE]
            ]
            assert (await aliyun_push(client, reports)).status_code == 200
        await service.refresh_metrics()
        return Outcome(
            receipts=await published(bus),
            unsampled=metric(
                service, "sendtier_receipts_unsampled_total", supplier=ALIYUN,
                message_class="marketing",
            ),
            published_metric=metric(
                service, "sendtier_receipts_reports_total", supplier=ALIYUN, fate="published"
            ),
            version_metric=metric(service, "sendtier_receipts_degradation_version"),
        )  # fmt: skip


async def test_under_sample_marketing_receipts_are_a_weighted_sample_and_the_rest_counted(
    database: Database, bus: MemoryBus, clock: ManualClock
) -> None:
    marketing = 2000
    outcome = await push_traffic(
        database, bus, clock, policy("sample", RATIO),
        {"marketing": marketing, "otp": 100, "notification": 100},
    )  # fmt: skip

    sampled = outcome.of_class("marketing")
    # Binomial(2000, 0.25): mean 500, sd 19.4; 5 sd either side fails once in millions of runs.
    sd = math.sqrt(marketing * RATIO * (1 - RATIO))
    assert abs(len(sampled) - marketing * RATIO) < 5 * sd
    assert {r.weight for r in sampled} == {1 / RATIO}
    # Weighted, the sample stands for every marketing receipt within the same bound.
    assert abs(sum(r.weight for r in sampled) - marketing) < 5 * sd / RATIO
    assert all(sample_point(r.message_id) < RATIO for r in sampled)
    assert outcome.unsampled == marketing - len(sampled)
    # OTP and notification receipts are all published, each standing for itself.
    assert Counter(r.message_class for r in outcome.receipts if r.weight == 1.0) == {
        "otp": 100,
        "notification": 100,
    }
    assert outcome.published_metric == len(outcome.receipts)
    assert outcome.version_metric == 7


async def test_the_gateways_sample_is_exactly_what_persistence_keeps(
    database: Database, bus: MemoryBus, clock: ManualClock
) -> None:
    in_force = policy("sample", RATIO)
    outcome = await push_traffic(database, bus, clock, in_force, {"marketing": 400})

    gate = DegradationGate(clock)
    gate.update(in_force)
    stored, shed = gate.split(outcome.receipts)
    # Persistence sees only the sample and, by the same hash, stores every one of it.
    assert stored == outcome.receipts
    assert not shed


@pytest.mark.parametrize("level", ["shed_marketing", "shed_notification"])
async def test_under_the_shed_levels_every_receipt_is_still_published_unweighted(
    database: Database, bus: MemoryBus, clock: ManualClock, level: DegradationLevel
) -> None:
    outcome = await push_traffic(
        database, bus, clock, policy(level),
        {"marketing": 150, "notification": 50, "otp": 50},
    )  # fmt: skip

    assert Counter(r.message_class for r in outcome.receipts) == {
        "marketing": 150,
        "notification": 50,
        "otp": 50,
    }
    assert {r.weight for r in outcome.receipts} == {1.0}
    assert outcome.unsampled == 0


async def test_a_sample_policy_past_its_until_publishes_every_receipt(
    database: Database, bus: MemoryBus, clock: ManualClock
) -> None:
    ended = policy("sample", RATIO, until=clock.now() - timedelta(seconds=1))

    outcome = await push_traffic(database, bus, clock, ended, {"marketing": 200})

    assert len(outcome.receipts) == 200
    assert {r.weight for r in outcome.receipts} == {1.0}


async def test_the_gateway_follows_a_policy_published_while_it_runs(
    database: Database, bus: MemoryBus, clock: ManualClock
) -> None:
    submits = [submit_result(n, supplier=ALIYUN, message_class="marketing") for n in range(200)]
    async with gateway(settings_for(str(database.url)), bus, database, clock) as (client, service):
        await publish_submits(bus, submits)
        await until(lambda: len(service.index) >= 2 * len(submits))
        await bus.publish(DEGRADATION, msgspec.msgpack.encode(policy("sample", RATIO)))
        await until(lambda: service.gate.level() == "sample")
        reports = [aliyun_report(s.supplier_message_id or "", out_id=s.message_id) for s in submits]
        assert (await aliyun_push(client, reports)).status_code == 200

    receipts = await published(bus)
    assert receipts and {r.weight for r in receipts} == {1 / RATIO}
    assert len(receipts) < len(submits) / 2
