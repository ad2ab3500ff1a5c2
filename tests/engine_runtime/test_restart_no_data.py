"""After the warm-up, a restored alert whose label set never came back is judged as no data."""

from __future__ import annotations

from pathlib import Path

from test_rule_engine_service import (
    DELIVERY_RULE,
    T0,
    alerts,
    aliyun_firing_before_a_restart,
    evaluate,
    feed,
    receipts,
    running,
    settings,
)

from smsplatform.clock import ManualClock

WINDOW_S = 60  # both rules' window

SUPPLIER_SILENT_RULE = """
groups:
  - name: silence
    interval: 5s
    rules:
      - alert: SupplierSilent
        source: receipts
        by: [supplier]
        window: 60s
        when: total > 0 && delivery_rate < 0.5
        on_no_data: alerting
"""


def test_a_restored_no_data_alert_stays_firing_after_the_warm_up_until_data_comes_back(
    tmp_path: Path, sqlite_url: str
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(SUPPLIER_SILENT_RULE)
    clock = ManualClock(T0)
    with running(settings(sqlite_url, rules), clock) as (client, service):
        feed(client, service, receipts(10, delivered_share=1.0))
        clock.advance(WINDOW_S + 1)  # aliyun has sent nothing for a whole window
        evaluate(client, service)
        [before] = alerts(client, state="firing")
        assert before["labels"] == {"alertname": "SupplierSilent", "supplier": "aliyun"}
    clock.advance(5)
    with running(settings(sqlite_url, rules), clock) as (client, service):
        clock.advance(WINDOW_S)  # the warm-up is over, and still not one receipt from aliyun
        evaluate(client, service)
        [still] = alerts(client)
        assert (still["state"], still["started_at"]) == ("firing", before["started_at"])

        feed(client, service, receipts(10, delivered_share=1.0))
        clock.advance(1)
        evaluate(client, service)
        [resolved] = alerts(client)
        assert resolved["state"] == "resolved"
        assert resolved["fingerprint"] == before["fingerprint"]


def test_a_restored_alert_of_a_rule_without_no_data_handling_resolves_when_its_label_set_vanished(
    tmp_path: Path, sqlite_url: str
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(DELIVERY_RULE.replace("for: 10s", "for: 0s"))  # on_no_data: ok
    clock = ManualClock(T0)
    before = aliyun_firing_before_a_restart(sqlite_url, rules, clock)
    clock.advance(5)
    with running(settings(sqlite_url, rules), clock) as (client, service):
        clock.advance(WINDOW_S)  # the warm-up is over; aliyun never sent again
        evaluate(client, service)
        [resolved] = alerts(client)
        assert (resolved["state"], resolved["started_at"]) == ("resolved", before["started_at"])
