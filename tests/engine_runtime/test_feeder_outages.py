"""The windows keep being fed through bus outages: a failed fetch does not blind the rules."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from fastapi.testclient import TestClient
from test_rule_engine_service import (
    DELIVERY_RULE,
    T0,
    alerts,
    evaluate,
    feed,
    receipts,
    settings,
)

from controlplane.service import ControlPlane
from controlplane.web.app import create_app
from smsplatform.clock import ManualClock
from tests.bus.faulty_bus import FaultyBus

WINDOWS_RECEIPTS = "windows-receipts"


def test_after_a_failed_fetch_the_windows_still_see_receipts_and_the_rule_fires(
    tmp_path: Path, sqlite_url: str
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(DELIVERY_RULE)
    clock = ManualClock(T0)
    bus = FaultyBus(clock=clock)
    asyncio.run(bus.start())
    service = ControlPlane(settings(sqlite_url, rules), environ={}, clock=clock, bus=bus)
    with TestClient(create_app(service)) as client:
        bus.fail_next_fetches(2, durable=WINDOWS_RECEIPTS)
        deadline = time.monotonic() + 5
        while bus.failed_fetches[WINDOWS_RECEIPTS] < 2:
            assert time.monotonic() < deadline, "the feeder stopped fetching after a failure"
            time.sleep(0.01)

        feed(client, service, receipts(100, delivered_share=0.6))
        evaluate(client, service)
        clock.advance(10)
        evaluate(client, service)

        [firing] = alerts(client, state="firing")
        health = client.get("/healthz").json()
    assert firing["labels"]["supplier"] == "aliyun"
    assert health["consumers"][WINDOWS_RECEIPTS]["state"] == "up"
    assert health["consumers"][WINDOWS_RECEIPTS]["errors"]["fetch"] == 2
