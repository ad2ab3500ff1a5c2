"""Failback versions are stored with why and the values seen: what each canary step showed."""

from __future__ import annotations

from typing import Any

from controlplane.actions.cutover_service import CutoverService
from smsplatform.clock import ManualClock
from tests.actions_cutover.service_world import RecordingSink, cutover_alone
from tests.actions_cutover.world import T0, one_route, receipt


async def test_each_failback_version_stores_what_its_canary_step_showed(sqlite_url: str) -> None:
    clock = ManualClock(T0)
    config = one_route(
        {"aliyun": 3.0, "cmpp": 1.0},
        safety={"min_dwell_s": 0},
        failback={"cooldown_s": 60, "window_s": 10, "steps": [0.01, 0.5, 1.0]},
    )
    async with cutover_alone(config, sqlite_url, clock, RecordingSink()) as service:

        async def cmpp_receipts(delivered: bool, count: int) -> None:
            batch = [receipt("cmpp", delivered, clock.now()) for _ in range(count)]
            await service.observe_receipts(batch)

        async def later(seconds: float) -> None:
            clock.advance(seconds)
            await service.decide()

        await cmpp_receipts(False, 40)  # cut over
        await later(60)  # cooled down: canary at 1 %
        await cmpp_receipts(True, 20)
        await later(10)  # window over, receipts healthy: 50 %
        await cmpp_receipts(True, 20)
        await later(10)  # restored
        await cmpp_receipts(False, 40)  # cut over again
        await later(60)  # canary at 1 %
        await cmpp_receipts(False, 20)  # a failing canary: ejected again at once
        stored = _stored_decisions(service)
    assert [d["action"] for d in stored] == [
        "cutover",
        "canary",
        "promote",
        "restore",
        "cutover",
        "canary",
        "eject_canary",
    ]
    _, canary, promote, restore, _, _, eject = (d["evidence"] for d in stored)
    assert canary["share"] == 0.01 and canary["rested_s"] == 60.0
    assert canary["ejected_because"].startswith("delivery 0% over ")
    for stepped, share, became in ((promote, 0.01, 0.5), (restore, 0.5, 1.0)):
        step = stepped["canary"]  # the step just judged; its own share is what it had
        assert (stepped["share"], step["share"]) == (became, share)
        assert (step["lasted_s"], step["window_s"]) == (10.0, 10.0)
        assert (step["verdict"], step["judged_on"]) == ("healthy", "receipts")
        assert (step["receipts"], step["delivered"], step["delivered_share"]) == (20, 20, 1.0)
        assert step["llr"] <= step["healthy_at_most"] < 0
        assert step["min_receipts"] == 5
    assert eject["signal"] == "delivery" and eject["rate"] == 0.0  # the finding that ejected it
    step = eject["canary"]
    assert (step["share"], step["verdict"], step["lasted_s"]) == (0.01, "unhealthy", 0.0)
    assert (step["receipts"], step["delivered_share"]) == (20, 0.0)
    assert step["llr"] > 0


def _stored_decisions(service: CutoverService) -> list[dict[str, Any]]:
    """The decisions of every stored version, oldest first, as read back from the database."""
    versions = reversed(service.store.history())
    return [d for v in versions for d in v.evidence.get("decisions", [])]
