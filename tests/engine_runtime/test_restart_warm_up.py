"""After a restart, restored alerts are held while the windows refill, then judged on live data."""

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

WINDOW_S = 60  # DELIVERY_RULE's window

SILENCE_RULE = """
groups:
  - name: silence
    interval: 5s
    rules:
      - alert: NoReceiptsAtAll
        source: receipts
        window: 60s
        when: total > 0 && delivery_rate < 0.5
        on_no_data: alerting
"""


def test_a_restored_firing_alert_stays_firing_until_its_window_has_refilled(
    tmp_path: Path, sqlite_url: str
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(DELIVERY_RULE.replace("for: 10s", "for: 0s"))
    clock = ManualClock(T0)
    before = aliyun_firing_before_a_restart(sqlite_url, rules, clock)
    clock.advance(5)
    with running(settings(sqlite_url, rules), clock) as (client, service):
        evaluate(client, service)  # an empty window: no evidence the fault is over
        [held] = alerts(client)
        assert held["state"] == "firing"
        assert held["started_at"] == before["started_at"]
        assert held["annotations"]["summary"] == "aliyun to cmcc: delivery 50.00%"

        clock.advance(WINDOW_S - 5)
        feed(client, service, receipts(100, delivered_share=0.99))
        clock.advance(5)  # a whole window of live data since the restart
        evaluate(client, service)
        [resolved] = alerts(client)
        assert resolved["state"] == "resolved"
        assert resolved["started_at"] == before["started_at"]


def test_a_keep_firing_for_in_progress_at_a_restart_goes_on_and_resolves_on_time(
    tmp_path: Path, sqlite_url: str
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(DELIVERY_RULE.replace("for: 10s", "for: 0s\n        keep_firing_for: 30s"))
    clock = ManualClock(T0)
    with running(settings(sqlite_url, rules), clock) as (client, service):
        feed(client, service, receipts(100, delivered_share=0.5))
        evaluate(client, service)
        [before] = alerts(client, state="firing")
        clock.advance(5)
        feed(client, service, receipts(900, delivered_share=1.0))  # 95 % over the window
        evaluate(client, service)
        [kept] = alerts(client, state="firing")
        assert kept["keep_firing_since"] == "2026-11-25T08:00:05+00:00"
    clock.advance(5)
    with running(settings(sqlite_url, rules), clock) as (client, service):
        evaluate(client, service)
        [still] = alerts(client, state="firing")  # 10 s of the 30 s kept so far
        assert still["started_at"] == before["started_at"]

        clock.advance(26)  # 31 s after the condition ended; the window is still refilling
        evaluate(client, service)
        [resolved] = alerts(client)
        assert resolved["state"] == "resolved"
        assert resolved["resolved_at"] == "2026-11-25T08:00:36+00:00"


def test_a_restored_pending_alert_keeps_its_pending_since_and_fires_on_time(
    tmp_path: Path, sqlite_url: str
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(DELIVERY_RULE)  # for: 10s
    clock = ManualClock(T0)
    with running(settings(sqlite_url, rules), clock) as (client, service):
        feed(client, service, receipts(100, delivered_share=0.5))
        evaluate(client, service)
        [before] = alerts(client, state="pending")
    clock.advance(5)
    with running(settings(sqlite_url, rules), clock) as (client, service):
        evaluate(client, service)
        [held] = alerts(client)
        assert (held["state"], held["active_since"]) == ("pending", before["active_since"])

        feed(client, service, receipts(100, delivered_share=0.5))
        clock.advance(5)  # 10s since it went pending before the restart
        evaluate(client, service)
        [firing] = alerts(client)
        assert (firing["state"], firing["active_since"]) == ("firing", before["active_since"])
        assert firing["started_at"] == "2026-11-25T08:00:10+00:00"


def test_a_fault_in_the_data_since_the_start_fires_during_the_warm_up(
    tmp_path: Path, sqlite_url: str
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(DELIVERY_RULE.replace("for: 10s", "for: 0s"))
    clock = ManualClock(T0)
    with running(settings(sqlite_url, rules), clock) as (client, service):
        feed(client, service, receipts(100, delivered_share=0.4, supplier="tencent"))
        evaluate(client, service)
        [firing] = alerts(client, state="firing")
        assert firing["labels"]["supplier"] == "tencent"


def test_silence_fires_nothing_during_the_warm_up_and_fires_once_the_window_has_filled(
    tmp_path: Path, sqlite_url: str
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(SILENCE_RULE)
    clock = ManualClock(T0)
    with running(settings(sqlite_url, rules), clock) as (client, service):
        evaluate(client, service)
        clock.advance(WINDOW_S - 1)
        evaluate(client, service)
        assert alerts(client) == []

        clock.advance(1)  # a whole window since the start, and still not one receipt
        evaluate(client, service)
        [silent] = alerts(client, state="firing")
        assert silent["labels"]["alertname"] == "NoReceiptsAtAll"
