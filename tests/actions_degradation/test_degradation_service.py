"""The degradation service: readings to versions, stored, published, applied, and announced."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from degradation_world import (
    INGEST_LEVELS,
    degradation_settings,
    degradation_world,
    receipt,
    until,
)

from controlplane.actions.degradation import DegradationRequestError
from controlplane.engine.rules.model import RuleAction
from controlplane.engine.rules.templates import compile_template
from controlplane.engine.runtime.sink import action_notice
from sendtier.persist.degradation import DegradationGate
from sendtier.persist.policy_feed import DegradationFeed
from smsplatform.bus import RECEIPTS
from smsplatform.bus.liveness import LivenessRegistry
from smsplatform.contracts import encode_batch
from tests.engine_promql.prometheus_harness import PrometheusServer


async def test_a_tripled_ingest_rate_samples_marketing_and_everyone_hears_of_it(
    sqlite_url: str,
) -> None:
    async with degradation_world(sqlite_url) as world:
        # Steady 15 receipts/s, then 45/s: past the sample threshold (30/s).
        await world.service.evaluate()  # opens the first interval
        steady = await world.traffic(150)
        degraded = await world.traffic(450)
        await world.notify()
        # Persistence follows cp.degradation as it does in the send tier.
        gate = DegradationGate(world.clock)
        feed = DegradationFeed(world.bus, gate, "persist-under-test", 5.0, LivenessRegistry())
        await feed.start()
        await feed.stop()

    assert steady is None
    assert degraded is not None
    stored = world.service.history()
    assert [v.policy for v in stored] == [degraded.policy]
    assert (degraded.policy.version, degraded.policy.level, degraded.policy.sample_ratio) == (
        1,
        "sample",
        0.25,
    )
    assert degraded.changed_by == "auto"
    assert degraded.evidence["readings"] == {"ingest_rate": 45.0}
    assert degraded.policy.reason == "ingest_rate 45 ≥ sample enter 30"
    assert gate.policy == degraded.policy and gate.level() == "sample"
    assert world.channel.summaries() == [
        (
            "firing",
            "status-report degradation normal → sample (ratio 0.25) by auto: "
            "ingest_rate 45 ≥ sample enter 30 (readings: ingest_rate=45)",
        )
    ]


async def test_the_level_goes_back_to_normal_when_the_rate_falls_below_exit(
    sqlite_url: str,
) -> None:
    async with degradation_world(sqlite_url) as world:
        await world.service.evaluate()
        await world.traffic(400)
        held = await world.traffic(250)  # 25/s: between exit (20) and enter (30)
        back = await world.traffic(100)  # 10/s: below exit
        await world.notify()

    assert held is None
    assert back is not None and back.policy.level == "normal" and back.policy.version == 2
    assert back.policy.reason == "ingest_rate 10 < sample exit 20"
    announced = (
        "firing",
        "status-report degradation sample → normal by auto: "
        "ingest_rate 10 < sample exit 20 (readings: ingest_rate=10)",
    )
    assert announced in world.channel.summaries()


async def test_sampled_receipts_count_by_their_weight_so_sampling_does_not_end_itself(
    sqlite_url: str,
) -> None:
    async with degradation_world(sqlite_url) as world:
        await world.service.evaluate()
        await world.traffic(400)
        # Under sample at 0.25 the gateway publishes a quarter of the marketing receipts, weight 4.
        sampled = [receipt(f"s-{n}", "marketing", weight=4.0) for n in range(100)]
        await world.bus.publish(RECEIPTS, encode_batch(sampled))
        await until(lambda: world.rate.counted >= 400)
        world.clock.advance(10)
        unchanged = await world.service.evaluate()

    assert unchanged is None
    assert world.service.current is not None and world.service.current.policy.level == "sample"


async def test_an_operators_level_holds_against_readings_until_cleared(sqlite_url: str) -> None:
    async with degradation_world(sqlite_url) as world:
        until_at = world.clock.now() + timedelta(hours=2)
        manual = await world.service.set_manual(
            "shed_marketing", until=until_at, reason="db failover drill", operator="alice"
        )
        await world.service.evaluate()
        held = await world.traffic(10)
        cleared = await world.service.clear_manual("alice")

    assert (manual.policy.level, manual.policy.until, manual.changed_by) == (
        "shed_marketing",
        until_at,
        "operator:alice",
    )
    assert held is None
    assert cleared is not None
    assert (cleared.policy.level, cleared.changed_by, cleared.policy.until) == (
        "normal",
        "auto",
        None,
    )


async def test_an_operators_level_ends_by_itself_at_its_until(sqlite_url: str) -> None:
    async with degradation_world(sqlite_url) as world:
        await world.service.set_manual(
            "sample",
            until=world.clock.now() + timedelta(minutes=30),
            reason="peak",
            operator="bob",
            sample_ratio=0.5,
        )
        world.clock.advance(30 * 60)
        ended = await world.service.evaluate()

    assert ended is not None and (ended.policy.level, ended.changed_by) == ("normal", "auto")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"until_s": -1}, "until"),
        ({"level": "shed_marketing", "sample_ratio": 0.5}, "sample_ratio"),
        ({"reason": "  "}, "reason"),
    ],
)
async def test_an_operator_request_that_makes_no_sense_is_refused_naming_the_field(
    sqlite_url: str, changes: dict[str, object], field: str
) -> None:
    async with degradation_world(sqlite_url) as world:
        request: dict[str, object] = {"level": "sample", "until_s": 60, "reason": "why"}
        request.update(changes)
        with pytest.raises(DegradationRequestError) as refused:
            await world.service.set_manual(
                request["level"],  # type: ignore[arg-type]
                until=world.clock.now() + timedelta(seconds=float(request["until_s"])),  # type: ignore[arg-type]
                reason=str(request["reason"]),
                operator="carol",
                sample_ratio=request.get("sample_ratio"),  # type: ignore[arg-type]
            )

    assert refused.value.field == field
    assert world.service.history() == []


async def test_a_restarted_control_plane_carries_on_from_the_stored_version(
    sqlite_url: str,
) -> None:
    async with degradation_world(sqlite_url) as world:
        until_at = world.clock.now() + timedelta(hours=1)
        before = await world.service.set_manual(
            "shed_notification", until=until_at, reason="storage is full", operator="dave"
        )
        await world.service.stop()
        restarted = world.restart()
        await restarted.start(schedule=False)
        try:
            await restarted.evaluate()
            after = restarted.current
        finally:
            await restarted.stop()

    # The operator's level still holds after the restart: no new version was needed.
    assert after == before
    assert len(world.service.history()) == 1


async def test_a_rules_degrade_action_holds_its_level_while_the_alert_fires(
    sqlite_url: str,
) -> None:
    action = RuleAction("degrade", {"level": compile_template("{{ labels.level }}")})
    labels = {"alertname": "PersistBacklog", "level": "shed_marketing"}
    async with degradation_world(sqlite_url) as world:
        fired = action_notice(labels, "receipt backlog 80,000", world.clock.now())
        await world.service.handle(fired, action)
        during = world.service.current
        world.clock.advance(60)
        resolved = action_notice(labels, "receipt backlog 80,000", world.clock.now(), firing=False)
        await world.service.handle(resolved, action)
        after = world.service.current

    assert during is not None and after is not None
    assert (during.policy.level, during.changed_by) == (
        "shed_marketing",
        "rule:actions/PersistBacklog",
    )
    assert during.policy.reason == "rule actions/PersistBacklog firing: receipt backlog 80,000"
    assert (after.policy.level, after.changed_by) == ("normal", "auto")


async def test_a_trigger_can_read_its_figure_from_prometheus(
    sqlite_url: str, tmp_path: Path
) -> None:
    server = PrometheusServer([], tmp_path / "prometheus")
    await asyncio.to_thread(server.start, wait_for_scrape=False)
    query = 'label_replace(vector(4200), "job", "sendtier-receipts", "", "")'
    settings = degradation_settings(
        triggers={"ingest_rate": {"promql": query, "levels": INGEST_LEVELS}}
    )
    try:
        async with degradation_world(sqlite_url, settings, server.url) as world:
            changed = await world.service.evaluate()
    finally:
        await asyncio.to_thread(server.stop)

    assert changed is not None and changed.policy.level == "shed_marketing"
    assert changed.evidence["readings"] == {"ingest_rate": 4200.0}
