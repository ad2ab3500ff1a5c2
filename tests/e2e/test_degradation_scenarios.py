"""Scenario (d) end to end: the ingest rate triples, status-report degradation steps in and out
on its own; and a supplier fault during `sample` is still detected and cut over, because the
windows and the health model weight each sampled receipt by the inverse ratio."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

from outcome_checks import (
    assert_no_message_lost_or_sent_twice,
    notified,
    read_outcome,
    wait_for,
    wait_for_notified,
    wait_until_all_submitted,
)
from route_checks import out_of_traffic, wait_for_route_states
from steady_traffic import steady_traffic
from system_world import FAST_PLAN, Backend, RunningSystem, running_system

from testbench.demo.scenario import degraded_plan

BASE_RATE = 45.0  # messages/s, so about as many receipts/s
# Receipts per second that enter and leave each level: tripled traffic crosses `sample`'s.
DEGRADATION: dict[str, Any] = {
    "evaluate_interval_s": 1.0,
    "min_dwell_up_s": 1.0,
    "min_dwell_down_s": 2.0,
    "sample_ratio": 0.5,
    "triggers": {"ingest_rate": {"levels": {"sample": {"enter": 100.0, "exit": 70.0}}}},
}


# A 25 % sample of receipts leaves the "receipts missing" signal with few receipts to judge by:
# ask it for more volume here, so that the fault is found by its delivery rate.
SAMPLED_HEALTH: dict[str, Any] = {
    "cutover": {"health": {"receipt_overdue_min_s": 2.0, "receipts_missing_min_submits": 200}}
}


async def _degradation(system: RunningSystem) -> dict[str, Any]:
    answer = await system.http.get("/v1/degradation", params={"history": 100})
    assert answer.status_code == 200, answer.text
    state: dict[str, Any] = answer.json()
    return state


async def _wait_for_level(system: RunningSystem, level: str, timeout_s: float) -> None:
    async def reached() -> bool:
        current = (await _degradation(system))["current"]
        return current is not None and current["level"] == level

    await wait_for(reached, timeout_s, f"degradation level {level}", poll_s=0.2)


async def test_tripled_ingest_rate_enters_sample_and_leaves_it_when_the_rate_falls_back(
    backend: Backend, tmp_path: Path
) -> None:
    overrides = {"degradation": DEGRADATION}
    async with running_system(backend, tmp_path, settings_overrides=overrides) as system:
        async with steady_traffic(system.api_url, system.tenant_token, BASE_RATE) as traffic:
            await asyncio.sleep(3)
            traffic.rate = 3 * BASE_RATE
            await _wait_for_level(system, "sample", 20)
            await asyncio.sleep(2)
            traffic.rate = BASE_RATE
            await _wait_for_level(system, "normal", 30)
        accepted = traffic.accepted.messages
        await wait_until_all_submitted(system, accepted)
        await asyncio.sleep(1.5)  # the last receipts (≤ 0.5 s late) reach storage
        history = (await _degradation(system))["history"]
        outcome = await asyncio.to_thread(read_outcome, system.services.database)

    levels = [version["level"] for version in sorted(history, key=lambda v: v["version"])]
    assert "sample" in levels and levels[-1] == "normal", levels
    entered = next(v for v in history if v["level"] == "sample")
    assert entered["evidence"], entered  # the readings that made it
    assert notified(system, alertname="DegradationLevelChanged", level="sample")
    # The rule watching the ingest rate fired while the rate was tripled, and people were told.
    [rate_alert, *_] = notified(system, alertname="ReceiptIngestRateHigh")
    assert rate_alert["annotations"]["summary"].startswith("receipts arrive at "), rate_alert
    assert_no_message_lost_or_sent_twice(outcome, accepted)
    # OTP receipts are never degraded: each OTP message has its receipt stored.
    otp = [m for m, (_, cls) in accepted.items() if cls == "otp"]
    assert all(m in outcome.receipts for m in otp)
    # Marketing receipts were sampled while the level held: some were not stored.
    marketing = [m for m, (_, cls) in accepted.items() if cls == "marketing"]
    assert sum(1 for m in marketing if m in outcome.receipts) < len(marketing)
    # Honest monitoring: sampling made no supplier look unhealthy.
    assert notified(system, alertname="SupplierDeliveryRateLow") == []
    assert notified(system, alertname="RouteChanged") == []


async def test_supplier_fault_during_sample_is_still_detected_and_cut_over(
    backend: Backend, tmp_path: Path
) -> None:
    supplier, carrier = "aliyun", "cmcc"
    async with running_system(backend, tmp_path, settings_overrides=SAMPLED_HEALTH) as system:
        until = system.clock.now() + timedelta(minutes=10)
        answer = await system.http.put(
            "/v1/degradation/manual",
            json={
                "level": "sample",
                "until": until.isoformat(),
                "reason": "e2e: peak",
                "sample_ratio": 0.25,
            },
        )
        assert answer.status_code == 200, answer.text
        await _wait_for_level(system, "sample", 10)
        # Marketing only: every receipt the control plane sees is a weighted sample.
        async with steady_traffic(
            system.api_url, system.tenant_token, 60.0, classes=("marketing",)
        ) as traffic:
            await asyncio.sleep(3)
            system.set_plan(supplier, degraded_plan(FAST_PLAN, carrier, 0.6))
            await wait_for_route_states(system, supplier, carrier, out_of_traffic, 30, "cut-over")
            system.set_plan(supplier, FAST_PLAN)
        await wait_until_all_submitted(system, traffic.accepted.messages)
        [announced, *_] = await wait_for_notified(
            system, alertname="RouteChanged", action="cutover", supplier=supplier, carrier=carrier
        )
        # The delivery-rate rule reads the weighted samples too: it fired and people were told.
        await wait_for_notified(
            system, alertname="SupplierDeliveryRateLow", supplier=supplier, carrier=carrier
        )
        outcome = await asyncio.to_thread(read_outcome, system.services.database)
        level = (await _degradation(system))["current"]["level"]

    assert level == "sample"
    assert "delivery" in announced["annotations"]["summary"]
    # Only a sample of the receipts was stored, and no message was lost on the way.
    taken = [m for m in traffic.accepted.messages if m in outcome.accepted_submits]
    assert 0 < sum(1 for m in taken if m in outcome.receipts) < len(taken)
    assert_no_message_lost_or_sent_twice(outcome, traffic.accepted.messages)
