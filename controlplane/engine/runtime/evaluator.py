"""Evaluates rule groups: stream and PromQL alert rules through their state machines, recordings.

One `RuleEvaluator` per loaded rule set. A reload builds a new one and hands it the old one's
alerts, so firing alerts keep firing across reloads as they do across restarts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from controlplane.clock import Clock
from controlplane.engine.alerts import Alert, AlertStateMachine, AlertTransition
from controlplane.engine.cel_expr import CelEvaluationError
from controlplane.engine.labels import LabelSet
from controlplane.engine.programs import WindowProgram
from controlplane.engine.promql import (
    PromQLAlertEvaluator,
    PromQLAlertRule,
    RuleEvaluationMetrics,
)
from controlplane.engine.promql.client import PrometheusClient
from controlplane.engine.rules.model import AlertRule, RecordingRule, RuleGroup, RuleSet
from controlplane.engine.runtime.alert_log import AlertLog
from controlplane.engine.runtime.health import RuleHealth
from controlplane.engine.runtime.sink import AlertNotice, AlertSink
from controlplane.engine.runtime.stream_rules import (
    ConditionProgram,
    RuleReaders,
    active_label_sets,
    alert_samples,
    compile_conditions,
    compile_readers,
    compile_recording,
    recorded_values,
    render_annotations,
    window_spec,
)
from controlplane.engine.windows import WindowStore

log = logging.getLogger(__name__)
SeriesKey = tuple[tuple[str, str], ...]


def rule_key(group: RuleGroup, name: str) -> str:
    return f"{group.name}/{name}"


@dataclass
class _AlertRuleState:
    """A loaded alert rule with its alerts, rendered annotations and health."""

    key: str
    group: RuleGroup
    rule: AlertRule
    machine: AlertStateMachine
    health: RuleHealth
    promql: PromQLAlertEvaluator | None = None
    readers: RuleReaders | None = None  # stream rules: value and no-data programs
    conditions: ConditionProgram | None = None  # stream rules: the program with its `when`
    annotations: dict[str, dict[str, str]] = field(default_factory=dict)


class RuleEvaluator:
    """Holds a rule set's runtime state and evaluates its groups on demand."""

    def __init__(
        self,
        rule_set: RuleSet,
        store: WindowStore,
        alert_log: AlertLog,
        sink: AlertSink,
        prometheus: PrometheusClient,
        metrics: RuleEvaluationMetrics,
        clock: Clock,
        *,
        external_url: str,
        previous: RuleEvaluator | None = None,
    ) -> None:
        self.rule_set = rule_set
        self._store = store
        self._alert_log = alert_log
        self._sink = sink
        self._prometheus = prometheus
        self._metrics = metrics
        self._clock = clock
        self._external_url = external_url
        self._alert_rules: dict[str, _AlertRuleState] = {}
        self._recording_health: dict[str, RuleHealth] = {}
        self._recording_programs: dict[str, WindowProgram] = {}
        # Recorded series, exported on /metrics: name → label set → value.
        self.recorded: dict[str, dict[SeriesKey, float]] = {}
        kept = previous.alerts_by_rule() if previous is not None else {}
        for group in rule_set.groups:
            conditions = compile_conditions(
                store, [r for r in group.alert_rules if not r.is_promql]
            )
            for rule in group.rules:
                if isinstance(rule, AlertRule):
                    self._add_alert_rule(group, rule, kept, conditions.get(rule.name))
                else:
                    self._add_recording_rule(group, rule)

    # -- set-up ---------------------------------------------------------------------------

    def _add_alert_rule(
        self,
        group: RuleGroup,
        rule: AlertRule,
        kept: Mapping[str, list[Alert]],
        conditions: ConditionProgram | None,
    ) -> None:
        key = rule_key(group, rule.name)
        alerts = kept[key] if key in kept else self._alert_log.restore(key)
        health = RuleHealth(key, "alert", rule.source)
        if rule.is_promql:
            assert rule.expr is not None
            promql = PromQLAlertEvaluator(
                PromQLAlertRule(
                    group.name,
                    rule.name,
                    rule.expr,
                    {name: template.source for name, template in rule.labels.items()},
                    rule.timing,
                ),
                self._prometheus,
                self._metrics,
                alerts=alerts,
            )
            state = _AlertRuleState(key, group, rule, promql.machine, health, promql)
        else:
            machine = AlertStateMachine(rule.timing, alerts)
            readers = compile_readers(self._store, rule)
            state = _AlertRuleState(
                key, group, rule, machine, health, readers=readers, conditions=conditions
            )
        self._alert_rules[key] = state

    def _add_recording_rule(self, group: RuleGroup, rule: RecordingRule) -> None:
        key = rule_key(group, rule.name)
        if rule.stream is not None:
            self._recording_programs[key] = compile_recording(self._store, rule)
        self._recording_health[key] = RuleHealth(key, "record", rule.source)

    # -- evaluation -----------------------------------------------------------------------

    async def evaluate_group(self, group: RuleGroup, now: datetime | None = None) -> None:
        """Evaluate every rule of `group` at `now` (the clock's time by default), in order."""
        at = now or self._clock.now()
        notices: list[AlertNotice] = []
        self._active: dict[int, dict[str, set[LabelSet]]] = {}
        for rule in group.rules:
            key = rule_key(group, rule.name)
            started = time.perf_counter()
            if isinstance(rule, AlertRule):
                notices.extend(await self._evaluate_alert_rule(self._alert_rules[key], at, started))
            else:
                self._evaluate_recording_rule(group, rule, key, at, started)
        if notices:
            await self._sink.deliver(notices)

    async def _evaluate_alert_rule(
        self, state: _AlertRuleState, at: datetime, started: float
    ) -> list[AlertNotice]:
        before = {alert.fingerprint: alert for alert in state.machine.alerts}
        try:
            transitions, error = await self._transitions(state, at)
        except (CelEvaluationError, ValueError) as exc:
            state.health = state.health.failed(at, _ms_since(started), str(exc))
            self._metrics.failed(state.group.name, state.rule.name, "cel")
            log.warning("rule evaluation failed rule=%s error=%s", state.key, exc)
            return []
        self._render(state, at)
        duration = _ms_since(started)
        state.health = (
            state.health.failed(at, duration, error)
            if error
            else state.health.succeeded(at, duration)
        )
        await self._alert_log.save(
            state.key, before, state.machine.alerts, transitions, state.annotations
        )
        return [
            AlertNotice(
                state.key, t, state.annotations.get(t.alert.fingerprint, {}), state.rule.actions
            )
            for t in transitions
        ]

    async def _transitions(
        self, state: _AlertRuleState, at: datetime
    ) -> tuple[list[AlertTransition], str | None]:
        """The rule's transitions, and a PromQL error if any.

        A PromQL rule whose query fails leaves its alerts as they were (never a silent resolve)
        and fires its RuleEvaluationFailing alert instead.
        """
        if state.promql is not None:
            evaluation = await state.promql.evaluate(at)
            error = str(evaluation.error) if evaluation.error is not None else None
            return [*evaluation.transitions, *evaluation.failing_transitions], error
        self._metrics.evaluated(state.group.name, state.rule.name)
        assert state.readers is not None and state.conditions is not None
        active = self._active_for(state.conditions, at)[state.rule.name]
        samples = alert_samples(state.readers, active, state.machine.alerts, self._store, at)
        return state.machine.evaluate(samples, at), None

    def _active_for(self, conditions: ConditionProgram, at: datetime) -> dict[str, set[LabelSet]]:
        """The conditions of one window, run once per round for all the rules that share it."""
        key = id(conditions)
        if key not in self._active:
            self._active[key] = active_label_sets(conditions, self._store, at)
        return self._active[key]

    def _render(self, state: _AlertRuleState, at: datetime) -> None:
        rule = state.rule
        aggregates: dict[tuple[str, ...], Any] = {}
        if (
            rule.stream is not None
            and state.machine.alerts
            and any(template.aggregate_names for template in rule.annotations.values())
        ):
            by_labels = self._store.aggregates(window_spec(rule.stream), at)
            aggregates = {
                tuple("" if part is None else str(part) for part in labels): values
                for labels, values in by_labels.items()
            }
        state.annotations = {
            alert.fingerprint: render_annotations(
                rule,
                alert.labels,
                alert.value,
                aggregates.get(tuple(alert.labels.get(name, "") for name in rule.stream.by))
                if rule.stream is not None
                else None,
                self._external_url,
            )
            for alert in state.machine.alerts
        }

    def _evaluate_recording_rule(
        self, group: RuleGroup, rule: RecordingRule, key: str, at: datetime, started: float
    ) -> None:
        health = self._recording_health[key]
        if rule.stream is None:
            # PromQL recording rules belong to Prometheus, which evaluates them itself.
            self._recording_health[key] = health.succeeded(at, 0.0)
            return
        try:
            program = self._recording_programs[key]
            self.recorded[rule.name] = recorded_values(rule, program, self._store, at)
        except (CelEvaluationError, ValueError) as exc:
            self._recording_health[key] = health.failed(at, _ms_since(started), str(exc))
            self._metrics.failed(group.name, rule.name, "cel")
            return
        self._metrics.evaluated(group.name, rule.name)
        self._recording_health[key] = health.succeeded(at, _ms_since(started))

    # -- reading ----------------------------------------------------------------------------

    def alerts_by_rule(self) -> dict[str, list[Alert]]:
        return {key: state.machine.alerts for key, state in self._alert_rules.items()}

    def live_alerts(self) -> list[tuple[str, Alert, Mapping[str, str]]]:
        """Every alert the engine holds now: (rule key, alert, annotations)."""
        held: list[tuple[str, Alert, Mapping[str, str]]] = []
        for key, state in self._alert_rules.items():
            held.extend(
                (key, alert, state.annotations.get(alert.fingerprint, {}))
                for alert in state.machine.alerts
            )
            if state.promql is not None:  # its RuleEvaluationFailing alert
                held.extend((key, alert, {}) for alert in state.promql.failing_machine.alerts)
        return held

    def health(self) -> list[RuleHealth]:
        return [
            *(state.health for state in self._alert_rules.values()),
            *self._recording_health.values(),
        ]


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0
