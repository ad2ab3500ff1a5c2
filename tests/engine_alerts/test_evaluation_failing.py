"""A rule's RuleEvaluationFailing alert fires while it fails, resolves, and survives a restart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from controlplane.engine.alerts import (
    EVALUATION_FAILING,
    AlertState,
    AlertStateMachine,
    EvaluationFailingAlert,
    Sample,
    StateTiming,
)

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_it_fires_on_the_first_failure_counts_repeats_and_resolves_on_success() -> None:
    failing = EvaluationFailingAlert("platform", "SendApiErrors")
    [fired] = failing.failed(at(0))
    assert fired.current is AlertState.FIRING
    assert fired.alert.labels == {
        "alertname": EVALUATION_FAILING,
        "rule_group": "platform",
        "rule": "SendApiErrors",
        "severity": "critical",
    }
    assert failing.failed(at(15)) == []
    assert failing.alerts[0].value == 2.0
    [resolved] = failing.succeeded(at(30))
    assert resolved.current is AlertState.RESOLVED


def test_restored_among_its_rules_alerts_it_takes_only_its_own_and_goes_on_counting() -> None:
    before = EvaluationFailingAlert("platform", "SendApiErrors")
    before.failed(at(0))
    before.failed(at(15))
    rule_alert = AlertStateMachine(StateTiming())
    rule_alert.evaluate([Sample({"alertname": "SendApiErrors"}, 3.0, active=True)], at(0))
    saved = [*rule_alert.alerts, *before.alerts]  # what storage gives back for the rule

    after = EvaluationFailingAlert("platform", "SendApiErrors", alerts=saved)

    assert [alert.labels["alertname"] for alert in after.alerts] == [EVALUATION_FAILING]
    assert [after.owns(alert) for alert in saved] == [False, True]
    assert after.failed(at(30)) == []  # still the same firing alert, not a new one
    [alert] = after.alerts
    assert (alert.started_at, alert.value) == (at(0), 3.0)
