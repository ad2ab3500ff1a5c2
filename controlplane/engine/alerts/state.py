"""The alert state machine of one rule: inactive → pending → firing → resolved, as in Prometheus.

Pure: fed with one evaluation's samples and the evaluation time, it returns the transitions. Its
state is a dict of frozen `Alert`s, which storage can save and give back after a restart, so a
firing alert keeps its `started_at`, a pending one its `active_since`, and a `keep_firing_for` in
progress goes on (Prometheus loses the last two on restart).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from controlplane.engine.alerts.fingerprint import fingerprint


class AlertState(StrEnum):
    INACTIVE = "inactive"
    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"


class NoDataPolicy(StrEnum):
    """What a label set whose window holds no events means for its alert."""

    OK = "ok"  # the condition is false: a firing alert resolves
    ALERTING = "alerting"  # the condition is true: silence is itself the problem
    KEEP = "keep"  # leave the alert as it is until data comes back


class AlertLimitExceeded(ValueError):
    """A rule produced more pending and firing alerts than its group's `limit` allows."""

    def __init__(self, limit: int, count: int) -> None:
        # Prometheus' own words, so a Prometheus user recognises the error on /v1/rules.
        super().__init__(f"exceeded limit of {limit} with {count} alerts")
        self.limit = limit
        self.count = count


@dataclass(frozen=True)
class Sample:
    """One label set's result in one evaluation."""

    labels: Mapping[str, str]  # the full alert labels: alertname, rule labels, `by` labels
    value: float | None
    active: bool  # the rule's condition held
    no_data: bool = False  # the window held no events for this label set


@dataclass(frozen=True)
class StateTiming:
    """A rule's timing knobs, in seconds."""

    for_s: float = 0.0
    keep_firing_for_s: float = 0.0
    # How long a resolved alert is still reported (and re-sent) before it is forgotten.
    resolved_retention_s: float = 15 * 60.0
    on_no_data: NoDataPolicy = NoDataPolicy.OK


@dataclass(frozen=True)
class Alert:
    """The state of one alert (one label set of one rule)."""

    fingerprint: str
    labels: Mapping[str, str]
    state: AlertState
    value: float | None
    active_since: datetime  # when the condition first held (start of pending)
    started_at: datetime | None = None  # when it began firing
    resolved_at: datetime | None = None
    keep_firing_since: datetime | None = None  # condition false while keep_firing_for runs
    last_evaluated_at: datetime | None = None


@dataclass(frozen=True)
class AlertTransition:
    """An alert moved from one state to another at `at`."""

    alert: Alert
    previous: AlertState
    at: datetime

    @property
    def current(self) -> AlertState:
        return self.alert.state


class AlertStateMachine:
    """The alerts of one rule, advanced by `evaluate` once per evaluation."""

    def __init__(self, timing: StateTiming, alerts: Iterable[Alert] = ()) -> None:
        self.timing = timing
        self._alerts: dict[str, Alert] = {a.fingerprint: a for a in alerts}

    @property
    def alerts(self) -> list[Alert]:
        return list(self._alerts.values())

    def evaluate(
        self,
        samples: Iterable[Sample],
        now: datetime,
        *,
        held: Collection[str] = (),
        limit: int = 0,
    ) -> list[AlertTransition]:
        """Advance every alert to `now` given this evaluation's samples; returns what changed.

        A label set missing from `samples` has vanished: its alert is treated as not active.
        An alert whose fingerprint is in `held` is left exactly as it is unless its condition
        holds (the warm-up after a restart: an empty window is no evidence that it is over).
        With a `limit`, more pending and firing alerts than that clear every alert of the rule
        and raise `AlertLimitExceeded`, as Prometheus does.
        """
        transitions: list[AlertTransition] = []
        seen: set[str] = set()
        for sample in samples:
            key = fingerprint(sample.labels)
            seen.add(key)
            active: bool | None = sample.active
            if sample.no_data:
                active = self._no_data_verdict()
            if active is None or (not active and key in held):  # no transition, no timer moves
                continue
            self._step(key, sample.labels, sample.value, active, now, transitions)
        for key in [k for k in self._alerts if k not in seen and k not in held]:
            alert = self._alerts[key]
            self._step(key, alert.labels, alert.value, False, now, transitions)
        if limit:
            self._enforce(limit)
        return transitions

    def _enforce(self, limit: int) -> None:
        live = (AlertState.PENDING, AlertState.FIRING)
        count = sum(1 for alert in self._alerts.values() if alert.state in live)
        if count > limit:
            # Prometheus clears active, pending and resolved alerts alike and sends nothing.
            self._alerts.clear()
            raise AlertLimitExceeded(limit, count)

    def _no_data_verdict(self) -> bool | None:
        policy = self.timing.on_no_data
        if policy is NoDataPolicy.KEEP:
            return None
        return policy is NoDataPolicy.ALERTING

    def _step(
        self,
        key: str,
        labels: Mapping[str, str],
        value: float | None,
        active: bool,
        now: datetime,
        transitions: list[AlertTransition],
    ) -> None:
        current = self._alerts.get(key)
        updated = (
            self._when_active(key, labels, value, current, now)
            if active
            else self._when_inactive(current, value, now)
        )
        previous = current.state if current else AlertState.INACTIVE
        if updated is None:
            self._alerts.pop(key, None)
            if previous is not AlertState.INACTIVE and current is not None:
                gone = replace(current, state=AlertState.INACTIVE, last_evaluated_at=now)
                transitions.append(AlertTransition(gone, previous, now))
            return
        self._alerts[key] = updated
        if updated.state is not previous:
            transitions.append(AlertTransition(updated, previous, now))

    def _when_active(
        self,
        key: str,
        labels: Mapping[str, str],
        value: float | None,
        current: Alert | None,
        now: datetime,
    ) -> Alert:
        if current is None or current.state is AlertState.RESOLVED:
            current = Alert(key, dict(labels), AlertState.PENDING, value, active_since=now)
        current = replace(current, value=value, keep_firing_since=None, last_evaluated_at=now)
        if current.state is AlertState.PENDING and self._elapsed(current.active_since, now) >= (
            self.timing.for_s
        ):
            current = replace(current, state=AlertState.FIRING, started_at=now)
        return current

    def _when_inactive(
        self, current: Alert | None, value: float | None, now: datetime
    ) -> Alert | None:
        if current is None or current.state is AlertState.PENDING:
            return None  # a pending alert whose condition stops holding is simply dropped
        if current.state is AlertState.RESOLVED:
            if self._elapsed(current.resolved_at or now, now) >= self.timing.resolved_retention_s:
                return None
            return replace(current, last_evaluated_at=now)
        # firing
        since = current.keep_firing_since or now
        if self._elapsed(since, now) < self.timing.keep_firing_for_s:
            return replace(current, keep_firing_since=since, last_evaluated_at=now)
        return replace(
            current,
            state=AlertState.RESOLVED,
            value=value,
            resolved_at=now,
            keep_firing_since=None,
            last_evaluated_at=now,
        )

    @staticmethod
    def _elapsed(since: datetime, now: datetime) -> float:
        return (now - since) / timedelta(seconds=1)
