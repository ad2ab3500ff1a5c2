"""A series a stream recording rule keeps is usable by PromQL rules, through a real Prometheus."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
from prometheus_harness import PrometheusServer, free_port
from smsctl_process import HEADERS, smsctl_run
from test_rule_engine_service import receipts

RULES = """
groups:
  - name: recorded
    interval: 1s
    rules:
      - record: smsctl:receipts_failure_rate:1m
        source: receipts
        by: [supplier]
        window: 1m
        value: failure_rate
  - name: on-recorded
    interval: 1s
    rules:
      - alert: SupplierFailureRateHigh
        expr: smsctl:receipts_failure_rate:1m > 0.3
        labels: {severity: critical}
"""


def firing(port: int) -> list[dict[str, Any]]:
    answer = httpx.get(
        f"http://127.0.0.1:{port}/v1/alerts", params={"state": "firing"}, headers=HEADERS, timeout=5
    )
    assert answer.status_code == 200
    return [
        a for a in answer.json()["alerts"] if a["labels"]["alertname"] != "RuleEvaluationFailing"
    ]


def test_a_promql_rule_over_a_recorded_series_fires_once_prometheus_scrapes_it(
    tmp_path: Path,
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    port = free_port()
    # Each side needs the other's address before it starts: the Prometheus port is picked first.
    prometheus = PrometheusServer([f"127.0.0.1:{port}"], tmp_path / "prometheus")
    prometheus.port = free_port()
    env = {"SMSCTL_RULES__PATHS": f"[{rules}]", "SMSCTL_PROMETHEUS__URL": prometheus.url}
    with smsctl_run(tmp_path, port, env):
        for body in (
            receipts(100, delivered_share=0.5, supplier="aliyun"),
            receipts(100, delivered_share=1.0, supplier="tencent"),
        ):
            answer = httpx.post(
                f"http://127.0.0.1:{port}/v1/events/receipts",
                content=body,
                headers={**HEADERS, "Content-Type": "application/x-ndjson"},
                timeout=10,
            )
            assert answer.status_code == 202
        try:
            prometheus.start()
            deadline = time.monotonic() + 15
            while not (alerts := firing(port)):
                assert time.monotonic() < deadline, "the PromQL rule never fired"
                time.sleep(0.1)
        finally:
            prometheus.stop()
    [alert] = alerts
    assert alert["rule"] == "on-recorded/SupplierFailureRateHigh"
    assert alert["labels"] == {
        "alertname": "SupplierFailureRateHigh",
        "supplier": "aliyun",
        "severity": "critical",
        "instance": f"127.0.0.1:{port}",
        "job": "harness",
    }
    assert alert["value"] == 0.5
