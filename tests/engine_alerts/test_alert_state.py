"""The alert state machine behaves as Prometheus users expect, and survives a restart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from controlplane.engine.alerts import (
    AlertLimitExceeded,
    AlertState,
    AlertStateMachine,
    NoDataPolicy,
    Sample,
    StateTiming,
    fingerprint,
)

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
LABELS = {"alertname": "SupplierDeliveryRateLow", "supplier": "aliyun", "carrier": "cmcc"}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def low(value: float = 0.6, labels: dict[str, str] = LABELS) -> Sample:
    return Sample(labels, value, active=True)


def fine(value: float = 0.97, labels: dict[str, str] = LABELS) -> Sample:
    return Sample(labels, value, active=False)


def states(machine: AlertStateMachine) -> dict[str, AlertState]:
    return {a.fingerprint: a.state for a in machine.alerts}


def test_an_alert_is_pending_for_its_for_duration_then_fires() -> None:
    machine = AlertStateMachine(StateTiming(for_s=30))
    [pending] = machine.evaluate([low()], at(0))
    assert (pending.previous, pending.current) == (AlertState.INACTIVE, AlertState.PENDING)
    assert machine.evaluate([low()], at(29)) == []
    [firing] = machine.evaluate([low(0.55)], at(30))
    assert firing.current is AlertState.FIRING
    assert firing.alert.started_at == at(30)
    assert firing.alert.active_since == at(0)
    assert firing.alert.value == 0.55


def test_a_rule_without_for_fires_at_once() -> None:
    machine = AlertStateMachine(StateTiming())
    [transition] = machine.evaluate([low()], at(0))
    assert (transition.previous, transition.current) == (AlertState.INACTIVE, AlertState.FIRING)


def test_a_pending_alert_whose_condition_clears_is_dropped_without_firing() -> None:
    machine = AlertStateMachine(StateTiming(for_s=30))
    machine.evaluate([low()], at(0))
    [dropped] = machine.evaluate([fine()], at(10))
    assert (dropped.previous, dropped.current) == (AlertState.PENDING, AlertState.INACTIVE)
    assert machine.alerts == []


def test_a_firing_alert_resolves_when_the_condition_clears() -> None:
    machine = AlertStateMachine(StateTiming())
    machine.evaluate([low()], at(0))
    [resolved] = machine.evaluate([fine()], at(5))
    assert resolved.current is AlertState.RESOLVED
    assert resolved.alert.resolved_at == at(5)
    assert resolved.alert.started_at == at(0)


def test_keep_firing_for_holds_a_firing_alert_after_the_condition_clears() -> None:
    machine = AlertStateMachine(StateTiming(keep_firing_for_s=120))
    machine.evaluate([low()], at(0))
    assert machine.evaluate([fine()], at(10)) == []
    assert machine.evaluate([fine()], at(129)) == []
    [resolved] = machine.evaluate([fine()], at(130))
    assert resolved.current is AlertState.RESOLVED


def test_keep_firing_for_starts_over_when_the_condition_returns() -> None:
    machine = AlertStateMachine(StateTiming(keep_firing_for_s=60))
    machine.evaluate([low()], at(0))
    machine.evaluate([fine()], at(10))
    machine.evaluate([low()], at(50))
    assert machine.evaluate([fine()], at(60)) == []
    assert machine.evaluate([fine()], at(119)) == []
    assert machine.evaluate([fine()], at(120))[0].current is AlertState.RESOLVED


def test_a_label_set_that_vanishes_resolves() -> None:
    machine = AlertStateMachine(StateTiming())
    machine.evaluate([low()], at(0))
    [resolved] = machine.evaluate([], at(15))
    assert resolved.current is AlertState.RESOLVED
    assert resolved.alert.labels == LABELS


def test_a_resolved_alert_that_fires_again_starts_a_new_firing() -> None:
    machine = AlertStateMachine(StateTiming(for_s=10))
    machine.evaluate([low()], at(0))
    machine.evaluate([low()], at(10))
    machine.evaluate([fine()], at(20))
    [pending] = machine.evaluate([low()], at(30))
    assert pending.current is AlertState.PENDING
    assert pending.alert.active_since == at(30)


def test_resolved_alerts_are_forgotten_after_retention() -> None:
    machine = AlertStateMachine(StateTiming(resolved_retention_s=900))
    machine.evaluate([low()], at(0))
    machine.evaluate([fine()], at(10))
    assert machine.evaluate([fine()], at(909)) == []
    [forgotten] = machine.evaluate([fine()], at(910))
    assert forgotten.current is AlertState.INACTIVE
    assert machine.alerts == []


def test_each_label_set_is_its_own_alert() -> None:
    other = {**LABELS, "carrier": "cucc"}
    machine = AlertStateMachine(StateTiming())
    transitions = machine.evaluate([low(), fine(labels=other)], at(0))
    assert [t.alert.labels["carrier"] for t in transitions] == ["cmcc"]
    assert states(machine) == {fingerprint(LABELS): AlertState.FIRING}


def test_no_data_ok_resolves_alerting_fires_and_keep_freezes() -> None:
    silent = Sample(LABELS, None, active=False, no_data=True)
    ok = AlertStateMachine(StateTiming(on_no_data=NoDataPolicy.OK))
    ok.evaluate([low()], at(0))
    assert ok.evaluate([silent], at(5))[0].current is AlertState.RESOLVED

    alerting = AlertStateMachine(StateTiming(on_no_data=NoDataPolicy.ALERTING))
    assert alerting.evaluate([silent], at(0))[0].current is AlertState.FIRING

    keep = AlertStateMachine(StateTiming(for_s=30, on_no_data=NoDataPolicy.KEEP))
    keep.evaluate([low()], at(0))
    assert keep.evaluate([silent], at(40)) == []
    assert states(keep) == {fingerprint(LABELS): AlertState.PENDING}
    assert keep.evaluate([low()], at(41))[0].current is AlertState.FIRING


def test_a_restarted_machine_keeps_pending_since_firing_start_and_keep_firing() -> None:
    before = AlertStateMachine(StateTiming(for_s=30, keep_firing_for_s=60))
    pending_labels = {**LABELS, "carrier": "cucc"}
    before.evaluate([low()], at(0))
    before.evaluate([low(), low(labels=pending_labels)], at(30))  # cmcc fires, cucc pends
    before.evaluate([fine(), low(labels=pending_labels)], at(40))  # keep_firing_for runs from 40

    after = AlertStateMachine(before.timing, before.alerts)  # what storage gives back
    firing = next(a for a in after.alerts if a.labels["carrier"] == "cmcc")
    assert (firing.state, firing.started_at, firing.keep_firing_since) == (
        AlertState.FIRING,
        at(30),
        at(40),
    )
    pending = next(a for a in after.alerts if a.labels["carrier"] == "cucc")
    assert (pending.state, pending.active_since) == (AlertState.PENDING, at(30))
    [fired] = after.evaluate([fine(), low(labels=pending_labels)], at(60))
    assert fired.alert.labels["carrier"] == "cucc" and fired.current is AlertState.FIRING
    assert after.evaluate([fine(), low(labels=pending_labels)], at(99)) == []
    [resolved] = after.evaluate([fine(), low(labels=pending_labels)], at(100))
    assert resolved.current is AlertState.RESOLVED


def test_a_held_alert_stays_as_it_was_unless_its_condition_holds() -> None:
    before = AlertStateMachine(StateTiming(for_s=10))
    pending_labels = {**LABELS, "carrier": "cucc"}
    before.evaluate([low()], at(0))
    before.evaluate([low(), low(labels=pending_labels)], at(10))  # cmcc fires, cucc pends
    restored = AlertStateMachine(before.timing, before.alerts)
    held = {alert.fingerprint for alert in restored.alerts}

    assert restored.evaluate([fine()], at(15), held=held) == []  # cucc is missing: held too
    assert states(restored) == {
        fingerprint(LABELS): AlertState.FIRING,
        fingerprint(pending_labels): AlertState.PENDING,
    }
    [fired] = restored.evaluate([low(labels=pending_labels)], at(20), held=held)
    assert (fired.current, fired.alert.active_since) == (AlertState.FIRING, at(10))


def test_more_alerts_than_the_limit_clear_every_alert_of_the_rule() -> None:
    machine = AlertStateMachine(StateTiming())
    machine.evaluate([low()], at(0))
    other = {**LABELS, "carrier": "cucc"}

    with pytest.raises(AlertLimitExceeded, match="exceeded limit of 1 with 2 alerts"):
        machine.evaluate([low(), low(labels=other)], at(5), limit=1)

    assert machine.alerts == []
    [fired] = machine.evaluate([low()], at(10), limit=1)  # within the limit again: a new alert
    assert (fired.previous, fired.current) == (AlertState.INACTIVE, AlertState.FIRING)


def test_fingerprints_depend_on_labels_not_their_order() -> None:
    assert fingerprint({"a": "1", "b": "2"}) == fingerprint({"b": "2", "a": "1"})
    assert fingerprint({"a": "1", "b": "2"}) != fingerprint({"a": "12"})
    assert len(fingerprint(LABELS)) == 16
