"""The rule engine inside the service: events in over HTTP, alerts out over the API."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from fastapi.testclient import TestClient

from controlplane.service import ControlPlane
from controlplane.settings import Settings
from controlplane.web.app import create_app
from smsplatform.clock import ManualClock

TOKEN = "engine-admin-token-0123456789"
HEADERS = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/x-ndjson"}
T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)

DELIVERY_RULE = """
groups:
  - name: delivery
    interval: 5s
    rules:
      - alert: SupplierDeliveryRateLow
        source: receipts
        by: [supplier, carrier]
        window: 60s
        when: delivery_rate < 0.9 && total >= 50
        for: 10s
        labels: {severity: critical}
        annotations:
          summary: "{{ labels.supplier }} to {{ labels.carrier }}: delivery {{ value | percent }}"
"""


def settings(
    database_url: str, rules: Path, prometheus_url: str = "http://127.0.0.1:9"
) -> Settings:
    return Settings.model_validate(
        {
            "database": {"url": database_url},
            "bus": {"backend": "memory", "ack_wait_s": 1.0},
            "rules": {"paths": [str(rules)], "watch": False},
            "prometheus": {"url": prometheus_url, "query_timeout_s": 1.0},
            "auth": {"tokens": [{"name": "root", "token": TOKEN, "scopes": ["admin"]}]},
        }
    )


@contextmanager
def running(config: Settings, clock: ManualClock) -> Iterator[tuple[TestClient, ControlPlane]]:
    service = ControlPlane(config, environ={}, clock=clock)
    with TestClient(create_app(service)) as client:
        yield client, service


def receipts(count: int, delivered_share: float, supplier: str = "aliyun") -> bytes:
    lines = []
    for n in range(count):
        status = "DELIVERED" if n < count * delivered_share else "FAILED"
        lines.append(
            orjson.dumps(
                {
                    "message_id": f"{supplier}-{n}-{time.monotonic_ns()}",
                    "supplier": supplier,
                    "carrier": "cmcc",
                    "message_class": "otp",
                    "status": status,
                    "submitted_at": T0.isoformat(),
                    "reported_at": (T0 + timedelta(seconds=3)).isoformat(),
                }
            )
        )
    return b"\n".join(lines)


def feed(client: TestClient, service: ControlPlane, body: bytes) -> None:
    """Post receipts and wait until the windows have them (the feeder reads the bus)."""
    before = service.rules.feeder.events_fed
    answer = client.post("/v1/events/receipts", content=body, headers=HEADERS)
    assert answer.status_code == 202
    expected = before + answer.json()["accepted"]
    deadline = time.monotonic() + 5
    while service.rules.feeder.events_fed < expected:
        assert time.monotonic() < deadline, "the windows never saw the receipts"
        time.sleep(0.01)


def evaluate(client: TestClient, service: ControlPlane) -> None:
    assert client.portal is not None
    client.portal.call(service.rules.evaluate_all)


def alerts(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    answer = client.get("/v1/alerts", params=params, headers=HEADERS)
    assert answer.status_code == 200
    return list(answer.json()["alerts"])


def test_a_supplier_whose_delivery_rate_drops_goes_pending_then_fires(
    tmp_path: Path, sqlite_url: str
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(DELIVERY_RULE)
    clock = ManualClock(T0)
    with running(settings(sqlite_url, rules), clock) as (client, service):
        feed(client, service, receipts(100, delivered_share=0.6))
        evaluate(client, service)
        [pending] = alerts(client)
        assert pending["state"] == "pending"
        clock.advance(10)
        evaluate(client, service)
        [firing] = alerts(client, state="firing")
        assert firing["labels"] == {
            "alertname": "SupplierDeliveryRateLow",
            "supplier": "aliyun",
            "carrier": "cmcc",
            "severity": "critical",
        }
        assert firing["value"] == 0.6
        assert firing["annotations"]["summary"] == "aliyun to cmcc: delivery 60.00%"
        detail = client.get(f"/v1/alerts/{firing['fingerprint']}", headers=HEADERS).json()
        assert [(e["from"], e["to"]) for e in detail["history"]] == [
            ("inactive", "pending"),
            ("pending", "firing"),
        ]
        [health] = client.get("/v1/rules", headers=HEADERS).json()["rules"]
        assert health["health"] == "ok" and health["rule"] == "delivery/SupplierDeliveryRateLow"


def test_a_healthy_supplier_raises_nothing_and_label_filters_apply(
    tmp_path: Path, sqlite_url: str
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(DELIVERY_RULE)
    clock = ManualClock(T0)
    with running(settings(sqlite_url, rules), clock) as (client, service):
        feed(client, service, receipts(100, delivered_share=0.98, supplier="tencent"))
        feed(client, service, receipts(100, delivered_share=0.5, supplier="aliyun"))
        evaluate(client, service)
        assert [a["labels"]["supplier"] for a in alerts(client)] == ["aliyun"]
        assert alerts(client, label="supplier=tencent") == []


def aliyun_firing_before_a_restart(
    database_url: str, rules: Path, clock: ManualClock
) -> dict[str, Any]:
    """Run the service, let aliyun deliver 50 %, evaluate, stop: the firing alert as served.
    (tests/engine_runtime/test_restart_*.py start the service again and look at it.)"""
    with running(settings(database_url, rules), clock) as (client, service):
        feed(client, service, receipts(100, delivered_share=0.5))
        evaluate(client, service)
        [before] = alerts(client, state="firing")
    return before


def test_a_broken_rule_file_is_rejected_and_the_running_rules_stay(
    tmp_path: Path, sqlite_url: str
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(DELIVERY_RULE)
    clock = ManualClock(T0)
    with running(settings(sqlite_url, rules), clock) as (client, service):
        rules.write_text(DELIVERY_RULE.replace("window: 60s", "window: sixty"))
        answer = client.post("/v1/rules/reload", headers=HEADERS)
        assert answer.status_code == 422
        assert any(
            f"{rules}:" in problem and "window" in problem for problem in answer.json()["problems"]
        )
        feed(client, service, receipts(100, delivered_share=0.5))
        evaluate(client, service)
        assert [a["labels"]["alertname"] for a in alerts(client)] == ["SupplierDeliveryRateLow"]

        rules.write_text(DELIVERY_RULE.replace("SupplierDeliveryRateLow", "DeliveryLow"))
        assert client.post("/v1/rules/reload", headers=HEADERS).json() == {
            "status": "reloaded",
            "rules": 1,
        }


def test_a_promql_rule_with_prometheus_down_reports_failure_never_resolves(
    tmp_path: Path, sqlite_url: str
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "groups:\n  - name: platform\n    rules:\n"
        "      - alert: SendApiErrors\n        expr: sum(rate(x_total[1m])) > 1\n"
    )
    clock = ManualClock(T0)
    with running(settings(sqlite_url, rules), clock) as (client, service):
        evaluate(client, service)
        [health] = client.get("/v1/rules", headers=HEADERS).json()["rules"]
        assert health["health"] == "err" and health["last_error"]
        metrics = client.get("/metrics").text
        [failing] = alerts(client)
    assert failing["labels"]["alertname"] == "RuleEvaluationFailing"
    assert failing["labels"]["rule"] == "SendApiErrors"
    assert failing["state"] == "firing"
    assert (
        'smsctl_rule_evaluation_failures_total{reason="down",rule="SendApiErrors",'
        'rule_group="platform"} 1.0' in metrics
    )


def test_saving_a_rule_file_reloads_it_and_windows_are_on_metrics(
    tmp_path: Path, sqlite_url: str
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(DELIVERY_RULE)
    config = settings(sqlite_url, rules).model_copy(
        update={
            "rules": settings(sqlite_url, rules).rules.model_copy(
                update={"watch": True, "watch_interval_s": 0.05}
            )
        }
    )
    clock = ManualClock(T0)
    with running(config, clock) as (client, service):
        feed(client, service, receipts(10, delivered_share=1.0))
        clock.advance(1)
        evaluate(client, service)  # closes the second the receipts landed in
        metrics = client.get("/metrics").text
        [line] = [line for line in metrics.splitlines() if line.startswith("smsctl_window_label")]
        assert (
            line
            == 'smsctl_window_label_sets{by="supplier,carrier",filter="",source="receipts"} 1.0'
        )

        rules.write_text(DELIVERY_RULE.replace("SupplierDeliveryRateLow", "DeliveryLow"))
        os.utime(rules, (time.time() + 5, time.time() + 5))  # a new mtime even on coarse clocks
        deadline = time.monotonic() + 3
        while True:
            names = [r["rule"] for r in client.get("/v1/rules", headers=HEADERS).json()["rules"]]
            if names == ["delivery/DeliveryLow"]:
                break
            assert time.monotonic() < deadline, names
            time.sleep(0.05)
