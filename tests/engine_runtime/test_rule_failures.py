"""A rule that cannot be evaluated: its RuleEvaluationFailing alert survives restarts; limits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from test_rule_engine_service import (
    DELIVERY_RULE,
    HEADERS,
    T0,
    alerts,
    evaluate,
    feed,
    receipts,
    running,
    settings,
)

from smsplatform.clock import ManualClock

PROMQL_RULE = """
groups:
  - name: platform
    rules:
      - alert: SendApiErrors
        expr: sum(rate(x_total[1m])) > 1
"""

DELIVERY_LIMITED = DELIVERY_RULE.replace("    interval: 5s\n", "    interval: 5s\n    limit: 1\n")


def rule_health(client: TestClient) -> dict[str, Any]:
    [health] = client.get("/v1/rules", headers=HEADERS).json()["rules"]
    return dict(health)


def history(client: TestClient, fingerprint: str) -> list[tuple[str, str]]:
    detail = client.get(f"/v1/alerts/{fingerprint}", headers=HEADERS).json()
    return [(event["from"], event["to"]) for event in detail["history"]]


def test_a_firing_rule_evaluation_failing_alert_survives_a_restart_and_is_not_fired_again(
    tmp_path: Path, sqlite_url: str
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(PROMQL_RULE)  # Prometheus at a closed port: every evaluation fails
    clock = ManualClock(T0)
    with running(settings(sqlite_url, rules), clock) as (client, service):
        evaluate(client, service)
        [before] = alerts(client)
    clock.advance(15)
    with running(settings(sqlite_url, rules), clock) as (client, service):
        [restored] = alerts(client)
        assert (restored["state"], restored["started_at"]) == ("firing", before["started_at"])
        evaluate(client, service)
        [after] = alerts(client)
        assert after["labels"]["alertname"] == "RuleEvaluationFailing"
        assert (after["state"], after["started_at"]) == ("firing", before["started_at"])
        assert after["value"] == 2.0  # consecutive failures, counted across the restart
        assert history(client, after["fingerprint"]) == [("inactive", "firing")]


def test_a_stream_rule_with_more_alerts_than_its_group_limit_fails_and_produces_none(
    tmp_path: Path, sqlite_url: str
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(DELIVERY_LIMITED)
    clock = ManualClock(T0)
    with running(settings(sqlite_url, rules), clock) as (client, service):
        feed(client, service, receipts(100, delivered_share=0.5, supplier="aliyun"))
        feed(client, service, receipts(100, delivered_share=0.5, supplier="tencent"))
        evaluate(client, service)

        [failing] = alerts(client)
        assert failing["labels"] == {
            "alertname": "RuleEvaluationFailing",
            "rule_group": "delivery",
            "rule": "SupplierDeliveryRateLow",
            "severity": "critical",
        }
        assert failing["state"] == "firing"
        health = rule_health(client)
        assert health["health"] == "err"
        assert health["last_error"] == "exceeded limit of 1 with 2 alerts"
        metrics = client.get("/metrics").text
        assert (
            'smsctl_rule_evaluation_failures_total{reason="limit",'
            'rule="SupplierDeliveryRateLow",rule_group="delivery"} 1.0' in metrics
        )


def test_a_stream_rule_within_its_group_limit_alerts_as_usual(
    tmp_path: Path, sqlite_url: str
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(DELIVERY_LIMITED)
    clock = ManualClock(T0)
    with running(settings(sqlite_url, rules), clock) as (client, service):
        feed(client, service, receipts(100, delivered_share=0.5, supplier="aliyun"))
        feed(client, service, receipts(100, delivered_share=0.99, supplier="tencent"))
        evaluate(client, service)

        [pending] = alerts(client)
        assert (pending["labels"]["supplier"], pending["state"]) == ("aliyun", "pending")
        assert rule_health(client)["health"] == "ok"


RECORDING_LIMITED = """
groups:
  - name: rates
    interval: 5s
    limit: 1
    rules:
      - record: smsctl:delivery_rate:1m
        source: receipts
        by: [supplier]
        window: 1m
        value: delivery_rate
"""


def test_a_recording_rule_with_more_series_than_its_group_limit_fails_and_records_none(
    tmp_path: Path, sqlite_url: str
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RECORDING_LIMITED)
    clock = ManualClock(T0)
    with running(settings(sqlite_url, rules), clock) as (client, service):
        feed(client, service, receipts(100, delivered_share=0.5, supplier="aliyun"))
        evaluate(client, service)
        assert 'smsctl:delivery_rate:1m{supplier="aliyun"}' in client.get("/metrics").text

        feed(client, service, receipts(100, delivered_share=0.9, supplier="tencent"))
        evaluate(client, service)

        health = rule_health(client)
        assert (health["health"], health["last_error"]) == (
            "err",
            "exceeded limit of 1 with 2 series",
        )
        assert "smsctl:delivery_rate:1m{" not in client.get("/metrics").text
