"""What the windows and recording rules put on the control plane's /metrics."""

from __future__ import annotations

from pathlib import Path

from metrics_text import sample
from test_rule_engine_service import evaluate, feed, receipts, running, settings

from controlplane.settings import Settings
from smsplatform.clock import ManualClock

RECORDING_RULE = """
groups:
  - name: delivery
    interval: 5s
    rules:
      - record: smsctl:receipts_delivery_rate:1m
        source: receipts
        by: [supplier, carrier]
        window: 1m
        value: delivery_rate
        labels: {team: sms}
"""


def with_label_cap(config: Settings, label_cap: int) -> Settings:
    rules = config.rules.model_copy(update={"label_cap": label_cap})
    return config.model_copy(update={"rules": rules})


def test_a_recorded_series_is_on_metrics_with_its_labels_and_follows_the_window(
    tmp_path: Path, sqlite_url: str
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RECORDING_RULE)
    clock = ManualClock()
    with running(settings(sqlite_url, rules), clock) as (client, service):
        series = {"supplier": "aliyun", "carrier": "cmcc", "team": "sms"}
        feed(client, service, receipts(100, delivered_share=0.6))
        clock.advance(1)  # the second the receipts landed in closes
        evaluate(client, service)
        page = client.get("/metrics").text
        assert sample(page, "smsctl:receipts_delivery_rate:1m", **series) == 0.6
        assert "# TYPE smsctl:receipts_delivery_rate:1m gauge" in page

        feed(client, service, receipts(100, delivered_share=1.0))
        clock.advance(1)
        evaluate(client, service)
        page = client.get("/metrics").text
        assert sample(page, "smsctl:receipts_delivery_rate:1m", **series) == 0.8

        clock.advance(60)  # both seconds left the window: an empty window's rate is neutral
        evaluate(client, service)
        page = client.get("/metrics").text
        assert sample(page, "smsctl:receipts_delivery_rate:1m", **series) == 1.0


def test_events_past_the_label_cap_fold_into_other_and_are_counted_on_metrics(
    tmp_path: Path, sqlite_url: str
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RECORDING_RULE.replace("by: [supplier, carrier]", "by: [supplier]"))
    clock = ManualClock()
    with running(with_label_cap(settings(sqlite_url, rules), 2), clock) as (client, service):
        feed(client, service, receipts(10, delivered_share=1.0, supplier="aliyun"))
        feed(client, service, receipts(10, delivered_share=1.0, supplier="tencent"))
        feed(client, service, receipts(30, delivered_share=0.5, supplier="huawei"))
        feed(client, service, receipts(20, delivered_share=0.0, supplier="twilio"))
        clock.advance(1)
        evaluate(client, service)
        page = client.get("/metrics").text
    stream = {"source": "receipts", "by": "supplier", "filter": ""}
    assert sample(page, "smsctl_window_folded_events_total", **stream) == 50.0
    assert sample(page, "smsctl_window_label_sets", **stream) == 3.0
    recorded = "smsctl:receipts_delivery_rate:1m"
    assert sample(page, recorded, supplier="aliyun", team="sms") == 1.0
    assert sample(page, recorded, supplier="other", team="sms") == 0.3
