"""Escalation steps come due on time, each once, survive restarts, and stop on ack or resolve."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from controlplane.alerting.config import Escalation, parse_alerting_config
from controlplane.alerting.escalation import (
    Acknowledgements,
    EscalationStore,
    EscalationTracker,
    NothingToAck,
)
from controlplane.storage import CONTROL_PLANE_HISTORY, AlertRepository, Database
from smsplatform.clock import ManualClock

FIRED = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
GROUP = '{}:{alertname="SupplierDeliveryDrop"}'
RECEIVERS = ("dingtalk-ops", "wecom-ops", "sms-primary", "voice-primary", "voice-secondary")
CHAINS_YAML = "\n".join(
    [
        "route: {receiver: dingtalk-ops}",
        "receivers:",
        *(f"  - name: {name}" for name in RECEIVERS),
        "escalations:",
        "  - name: sms-critical",
        "    steps:",
        "      - {after: 0s, receivers: [dingtalk-ops, wecom-ops]}",
        "      - {after: 5m, receivers: [sms-primary]}",
        "      - {after: 10m, receivers: [voice-primary]}",
        "      - {after: 20m, receivers: [voice-secondary]}",
    ]
)


def chains() -> dict[str, Escalation]:
    return dict(parse_alerting_config(CHAINS_YAML).escalations)


def tracker_on(url: str, clock: ManualClock) -> tuple[EscalationTracker, Acknowledgements]:
    database = Database(url)
    database.upgrade(CONTROL_PLANE_HISTORY)
    store = EscalationStore(database)
    return (
        EscalationTracker(store, chains(), clock),
        Acknowledgements(store, AlertRepository(database), clock),
    )


def receivers_due(tracker: EscalationTracker) -> list[str]:
    return [receiver for due in tracker.due() for receiver in due.step.receivers]


def test_steps_come_due_at_their_delays_each_once(sqlite_url: str) -> None:
    clock = ManualClock(FIRED)
    tracker, _ = tracker_on(sqlite_url, clock)
    tracker.start(GROUP, "sms-critical", ["a1b2c3d4e5f60718"], FIRED)
    assert receivers_due(tracker) == ["dingtalk-ops", "wecom-ops"]
    assert receivers_due(tracker) == []
    clock.advance(299)
    assert receivers_due(tracker) == []
    clock.advance(1)
    assert receivers_due(tracker) == ["sms-primary"]
    clock.advance(300)
    assert receivers_due(tracker) == ["voice-primary"]
    clock.advance(600)
    assert receivers_due(tracker) == ["voice-secondary"]
    clock.advance(3600)
    assert receivers_due(tracker) == []


def test_a_restart_mid_escalation_neither_repeats_nor_skips_a_step(database_url: str) -> None:
    clock = ManualClock(FIRED)
    before, _ = tracker_on(database_url, clock)
    before.start(GROUP, "sms-critical", ["a1b2c3d4e5f60718"], FIRED)
    clock.advance(6 * 60)
    assert receivers_due(before) == ["dingtalk-ops", "wecom-ops", "sms-primary"]
    # The process dies; a new one (same database) starts the same firing again and carries on.
    clock.advance(5 * 60)
    after, _ = tracker_on(database_url, clock)
    after.start(GROUP, "sms-critical", ["a1b2c3d4e5f60718"], FIRED)
    assert [(due.index, due.step.receivers) for due in after.due()] == [(2, ("voice-primary",))]
    assert receivers_due(before) == []  # a second replica on the same database gets nothing


def test_acknowledging_the_group_stops_further_steps_and_is_in_the_alert_history(
    sqlite_url: str,
) -> None:
    clock = ManualClock(FIRED)
    tracker, acks = tracker_on(sqlite_url, clock)
    tracker.start(GROUP, "sms-critical", ["a1b2c3d4e5f60718", "0f1e2d3c4b5a6978"], FIRED)
    assert receivers_due(tracker) == ["dingtalk-ops", "wecom-ops"]
    clock.advance(120)
    result = acks.ack_group(GROUP, "alice", "api")
    assert result.group_keys == (GROUP,)
    clock.advance(3600)
    assert receivers_due(tracker) == []
    history = AlertRepository(Database(sqlite_url)).history("a1b2c3d4e5f60718")
    assert [(e.kind, e.detail["by"], e.detail["via"]) for e in history] == [("ack", "alice", "api")]
    assert history[0].at == FIRED + timedelta(seconds=120)
    # Acking again changes nothing and says so.
    assert acks.ack_group(GROUP, "bob", "cli").group_keys == ()


def test_acknowledging_one_alert_stops_the_groups_that_hold_it(sqlite_url: str) -> None:
    clock = ManualClock(FIRED)
    tracker, acks = tracker_on(sqlite_url, clock)
    tracker.start(GROUP, "sms-critical", ["a1b2c3d4e5f60718"], FIRED)
    tracker.start('{}:{alertname="Other"}', "sms-critical", ["ffffffffffffffff"], FIRED)
    assert acks.ack_alert("a1b2c3d4e5f60718", "alice", "cli").group_keys == (GROUP,)
    assert [due.group_key for due in tracker.due()] == ['{}:{alertname="Other"}']
    with pytest.raises(NothingToAck):
        acks.ack_alert("0000000000000000", "alice", "cli")


def test_a_resolved_group_stops_escalating_and_a_new_firing_escalates_afresh(
    sqlite_url: str,
) -> None:
    clock = ManualClock(FIRED)
    tracker, _ = tracker_on(sqlite_url, clock)
    tracker.start(GROUP, "sms-critical", ["a1b2c3d4e5f60718"], FIRED)
    assert len(tracker.due()) == 1
    clock.advance(60)
    tracker.resolve(GROUP)
    clock.advance(3600)
    assert tracker.due() == []
    tracker.start(GROUP, "sms-critical", ["a1b2c3d4e5f60718"], clock.now())
    assert receivers_due(tracker) == ["dingtalk-ops", "wecom-ops"]


def test_a_voice_call_key_press_acks_the_episode_the_call_was_placed_for(sqlite_url: str) -> None:
    clock = ManualClock(FIRED)
    tracker, acks = tracker_on(sqlite_url, clock)
    episode = tracker.start(GROUP, "sms-critical", ["a1b2c3d4e5f60718"], FIRED)
    clock.advance(600)
    assert receivers_due(tracker)[-1] == "voice-primary"
    acks.remember_call("116012354148^100000000001", GROUP, episode)
    result = acks.ack_call(["116012354148^100000000001", ""], by="voice:116012354148")
    assert (result.via, result.group_keys) == ("voice", (GROUP,))
    clock.advance(3600)
    assert tracker.due() == []


def test_a_key_press_on_a_call_of_an_earlier_firing_does_not_ack_the_next(sqlite_url: str) -> None:
    clock = ManualClock(FIRED)
    tracker, acks = tracker_on(sqlite_url, clock)
    first = tracker.start(GROUP, "sms-critical", ["a1b2c3d4e5f60718"], FIRED)
    acks.remember_call("116012354148^100000000001", GROUP, first)
    clock.advance(600)
    tracker.resolve(GROUP)
    clock.advance(60)
    second = tracker.start(GROUP, "sms-critical", ["a1b2c3d4e5f60718"], clock.now())
    assert second != first
    # The callee of the first firing's call presses 1 late (or the receipt is re-pushed).
    assert acks.ack_call(["116012354148^100000000001", ""], by="voice:1").group_keys == ()
    assert receivers_due(tracker) == ["dingtalk-ops", "wecom-ops"]


def test_a_group_keeps_its_open_episode_when_later_alerts_start_later(sqlite_url: str) -> None:
    clock = ManualClock(FIRED)
    tracker, acks = tracker_on(sqlite_url, clock)
    first = tracker.start(GROUP, "sms-critical", ["a1b2c3d4e5f60718"], FIRED)
    # The earliest alert resolves; a later message names only one that started later.
    later = tracker.start(GROUP, "sms-critical", ["ffffffffffffffff"], FIRED + timedelta(minutes=3))
    assert later == first
    assert acks.ack_alert("ffffffffffffffff", "alice", "cli").group_keys == (GROUP,)
    clock.advance(3600)
    assert tracker.due() == []
