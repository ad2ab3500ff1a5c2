"""PromQL recording rules, evaluated through a real Prometheus and exported on our /metrics."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from metrics_text import sample
from prometheus_harness import (
    MetricsExporter,
    PrometheusServer,
    metrics_exporter,
    prometheus,
    start_prometheus,
)
from test_rule_engine_service import HEADERS, evaluate, running, settings

from smsplatform.clock import ManualClock

__all__ = ["metrics_exporter", "prometheus", "start_prometheus"]  # fixtures used below

RECORDED = "queue:harness_queue_depth:max"


def recording_rule(expr: str, labels: str = "{team: sms}") -> str:
    return f"""
groups:
  - name: queues
    interval: 5s
    rules:
      - record: {RECORDED}
        expr: {expr}
        labels: {labels}
"""


def rule_health(client: TestClient) -> dict[str, Any]:
    [health] = client.get("/v1/rules", headers=HEADERS).json()["rules"]
    return dict(health)


def failures(page: str, reason: str) -> float | None:
    return sample(
        page,
        "smsctl_rule_evaluation_failures_total",
        rule_group="queues",
        rule=RECORDED,
        reason=reason,
    )


def test_a_promql_recording_rule_is_on_metrics_and_keeps_its_series_when_prometheus_is_down(
    tmp_path: Path,
    sqlite_url: str,
    metrics_exporter: MetricsExporter,
    start_prometheus: Callable[[Sequence[str]], PrometheusServer],
) -> None:
    queue = f"q-{uuid.uuid4().hex[:8]}"
    metrics_exporter.queue_depth.labels(queue).set(7)
    own_prometheus = start_prometheus([metrics_exporter.target])
    own_prometheus.wait_for_value(f'harness_queue_depth{{queue="{queue}"}}', 7)
    rules = tmp_path / "rules.yaml"
    rules.write_text(recording_rule(f"max by (queue) (harness_queue_depth{{queue='{queue}'}})"))
    clock = ManualClock(datetime.now(UTC))
    config = settings(sqlite_url, rules, own_prometheus.url)
    with running(config, clock) as (client, service):
        evaluate(client, service)
        page = client.get("/metrics").text
        assert sample(page, RECORDED, queue=queue, team="sms") == 7.0
        assert "# TYPE queue:harness_queue_depth:max gauge" in page
        assert rule_health(client)["health"] == "ok"

        own_prometheus.stop()
        clock.advance(5)
        evaluate(client, service)
        health = rule_health(client)
        assert health["health"] == "err"
        assert health["last_error"].startswith("down: ")
        page = client.get("/metrics").text
        assert failures(page, "down") == 1.0
        # The last value Prometheus gave, not a zero and not an empty result.
        assert sample(page, RECORDED, queue=queue, team="sms") == 7.0


def test_a_promql_recording_rule_whose_labels_merge_two_series_fails_and_records_nothing(
    tmp_path: Path,
    sqlite_url: str,
    metrics_exporter: MetricsExporter,
    prometheus: PrometheusServer,
) -> None:
    queues = [f"q-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    for queue in queues:
        metrics_exporter.queue_depth.labels(queue).set(3)
    matcher = f"harness_queue_depth{{queue=~'{'|'.join(queues)}'}}"
    prometheus.wait_for(matcher, lambda result: len(result) == 2)
    rules = tmp_path / "rules.yaml"
    rules.write_text(recording_rule(f"max by (queue) ({matcher})", "{queue: all}"))
    clock = ManualClock(datetime.now(UTC))
    with running(settings(sqlite_url, rules, prometheus.url), clock) as (client, service):
        evaluate(client, service)
        health = rule_health(client)
        assert (health["health"], health["last_error"]) == (
            "err",
            "execution: vector contains metrics with the same labelset after applying rule labels",
        )
        page = client.get("/metrics").text
        assert failures(page, "execution") == 1.0
        assert f"{RECORDED}{{" not in page
