"""A rule's cut-over survives a control-plane restart: its alert, restored firing, still holds
the supplier out past the cool-down; once the alert resolves, failback by canary begins."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient

from controlplane.service import ControlPlane
from smsplatform.clock import ManualClock
from tests.actions_cutover.service_world import (
    ADMIN,
    OPERATOR,
    RecordingSink,
    bearer,
    post_receipts,
    running,
    settings,
    state_of,
)
from tests.actions_cutover.world import T0, receipt

# Receipts that take 100 s to come back are delivered, so the health model finds nothing wrong:
# only the rule takes the supplier out.
SLOW_RECEIPTS_RULE = """
groups:
  - name: latency
    interval: 5s
    rules:
      - alert: ReceiptsSlow
        source: receipts
        by: [supplier, carrier]
        window: 30s
        when: p95 > 60.0 && total >= 3
        for: 0s
        annotations:
          summary: "{{ labels.supplier }} to {{ labels.carrier }}: receipts take {{ value }} s"
        actions:
          - cutover: {supplier: "{{ labels.supplier }}", carrier: "{{ labels.carrier }}"}
"""
COOLDOWN_S = 60  # service_world's failback cool-down


def _receipts(
    client: TestClient, service: ControlPlane, clock: ManualClock, delay_s: float
) -> None:
    """Five delivered receipts of aliyun on cmcc, seen by cut-over and by the rule windows."""
    fed = service.rules.feeder.events_fed
    batch = [receipt("aliyun", True, clock.now(), delay_s=delay_s) for _ in range(5)]
    post_receipts(client, service, batch)
    deadline = time.monotonic() + 5
    while service.rules.feeder.events_fed < fed + len(batch):
        assert time.monotonic() < deadline, "the rule windows never saw the receipts"
        time.sleep(0.01)


def _evaluate_and_decide(client: TestClient, service: ControlPlane) -> None:
    assert client.portal is not None
    client.portal.call(service.rules.evaluate_all)
    client.portal.call(service.cutover.decide)


def _aliyun_on_cmcc(client: TestClient) -> str:
    table = client.get("/v1/routing", headers=bearer(OPERATOR)).json()
    return state_of(table, "aliyun", "cmcc", "otp")


def _firing(client: TestClient) -> list[str]:
    answer = client.get("/v1/alerts", params={"state": "firing"}, headers=bearer(ADMIN))
    assert answer.status_code == 200, answer.text
    return [alert["labels"]["alertname"] for alert in answer.json()["alerts"]]


def test_rule_cutover_holds_across_a_restart_until_its_alert_resolves(
    tmp_path: Path, sqlite_url: str
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(SLOW_RECEIPTS_RULE)
    config = settings(sqlite_url, rules)
    clock = ManualClock(T0)
    with running(config, clock, RecordingSink()) as (client, service):
        clock.advance(1)
        _receipts(client, service, clock, delay_s=100)
        _evaluate_and_decide(client, service)
        assert _firing(client) == ["ReceiptsSlow"]
        assert _aliyun_on_cmcc(client) == "ejected"

    clock.advance(1)
    with running(config, clock, RecordingSink()) as (client, service):
        # Well past the cool-down, the alert still fires (slow receipts keep coming): no canary.
        for _ in range(COOLDOWN_S // 10 + 2):
            clock.advance(10)
            _receipts(client, service, clock, delay_s=100)
            _evaluate_and_decide(client, service)
            assert _firing(client) == ["ReceiptsSlow"]
            assert _aliyun_on_cmcc(client) == "ejected"

        # Receipts come back fast: the alert resolves, and the supplier gets a canary.
        clock.advance(31)
        _receipts(client, service, clock, delay_s=2)
        _evaluate_and_decide(client, service)
        assert _firing(client) == []
        assert _aliyun_on_cmcc(client) == "probing"
