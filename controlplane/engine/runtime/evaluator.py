"""Evaluates rule groups: stream and PromQL alert rules through their state machines, recordings.

One `RuleEvaluator` per loaded rule set. A reload builds a new one and hands it the old one's
alerts, so firing alerts keep firing across reloads as they do across restarts. After a start,
alerts restored from storage are held while their windows refill (see `warmup`). Every alert
rule has a `RuleEvaluationFailing` alert, saved and restored with the rule's own alerts. A
group's `limit` fails a rule that produces more alerts (or series) than it allows.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from controlplane.engine.alerts import (
    Alert,
    AlertLimitExceeded,
    AlertState,
    AlertStateMachine,
    AlertTransition,
    EvaluationFailingAlert,
)
from controlplane.engine.cel_expr import CelEvaluationError
from controlplane.engine.labels import LabelSet
from controlplane.engine.promql import (
    PromQLAlertEvaluator,
    PromQLAlertRule,
    RuleEvaluationMetrics,
    SeriesKey,
)
from controlplane.engine.promql.client import PrometheusClient
from controlplane.engine.rules.model import AlertRule, RecordingRule, RuleGroup, RuleSet
from controlplane.engine.runtime.alert_log import AlertLog
from controlplane.engine.runtime.annotations import RenderedOnRead
from controlplane.engine.runtime.health import RuleHealth
from controlplane.engine.runtime.recording import RecordingRules
from controlplane.engine.runtime.sink import AlertNotice, AlertSink
from controlplane.engine.runtime.stream_rules import (
    ConditionProgram,
    RuleReaders,
    active_label_sets,
    alert_samples,
    compile_conditions,
    compile_readers,
    render_annotations,
    window_spec,
)
from controlplane.engine.runtime.warmup import WarmUp, held_during_warm_up
from controlplane.engine.windows import WindowStore
from smsplatform.clock import Clock

log = logging.getLogger(__name__)


def rule_key(group: RuleGroup, name: str) -> str:
    return f"{group.name}/{name}"


@dataclass
class _AlertRuleState:
    """A loaded alert rule with its alerts, rendered annotations and health."""

    key: str
    group: RuleGroup
    rule: AlertRule
    machine: AlertStateMachine
    failing: EvaluationFailingAlert
    health: RuleHealth
    # Pending and firing alerts restored from storage, held while the rule's window refills.
    restored: frozenset[str] = frozenset()
    promql: PromQLAlertEvaluator | None = None
    readers: RuleReaders | None = None  # stream rules: value and no-data programs
    conditions: ConditionProgram | None = None  # stream rules: the program with its `when`
    annotations: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


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
        self._recordings = RecordingRules(store, prometheus, metrics)
        # Reloads keep the windows, so the warm-up runs from the first start, not from a reload.
        self._warm_up: WarmUp = previous._warm_up if previous is not None else WarmUp(clock.now())
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
        from_storage = key not in kept
        saved = self._alert_log.restore(key) if from_storage else kept[key]
        failing = EvaluationFailingAlert(group.name, rule.name, alerts=saved)
        alerts = [alert for alert in saved if not failing.owns(alert)]
        health = RuleHealth(key, "alert", rule.source)
        if rule.is_promql:
            assert rule.expr is not None
            promql = PromQLAlertEvaluator(
                PromQLAlertRule(
                    group.name,
                    rule.name,
                    rule.expr,
                    rule.labels,
                    rule.timing,
                    limit=group.limit,
                    query_offset_s=group.query_offset_s,
                ),
                self._prometheus,
                self._metrics,
                alerts=alerts,
                failing=failing,
            )
            state = _AlertRuleState(
                key, group, rule, promql.machine, failing, health, promql=promql
            )
        else:
            live = (AlertState.PENDING, AlertState.FIRING)
            # An alert in its keep_firing_for was already judged over before the restart: it
            # is not held, so its countdown goes on from the stored keep_firing_since.
            restored = frozenset(
                a.fingerprint
                for a in alerts
                if from_storage and a.state in live and a.keep_firing_since is None
            )
            state = _AlertRuleState(
                key,
                group,
                rule,
                AlertStateMachine(rule.timing, alerts),
                failing,
                health,
                restored,
                readers=compile_readers(self._store, rule),
                conditions=conditions,
            )
        self._alert_rules[key] = state

    def _add_recording_rule(self, group: RuleGroup, rule: RecordingRule) -> None:
        key = rule_key(group, rule.name)
        self._recordings.add(key, group, rule)
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
                await self._evaluate_recording_rule(group, rule, key, at, started)
        if notices:
            await self._sink.deliver(notices)

    async def _evaluate_alert_rule(
        self, state: _AlertRuleState, at: datetime, started: float
    ) -> list[AlertNotice]:
        before = {alert.fingerprint: alert for alert in _all_alerts(state)}
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
            state.key, before, _all_alerts(state), transitions, state.annotations
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
        """The rule's transitions, and the error that failed its evaluation if any.

        A PromQL rule whose query fails leaves its alerts as they were (never a silent resolve)
        and fires its RuleEvaluationFailing alert instead. A rule over its group's `limit` fails
        the same way, except that its alerts are cleared, as Prometheus clears them.
        """
        if state.promql is not None:
            evaluation = await state.promql.evaluate(at)
            error = str(evaluation.error) if evaluation.error is not None else None
            return [*evaluation.transitions, *evaluation.failing_transitions], error
        self._metrics.evaluated(state.group.name, state.rule.name)
        assert state.readers is not None and state.conditions is not None
        assert state.rule.stream is not None
        active = self._active_for(state.conditions, at)[state.rule.name]
        samples = alert_samples(state.readers, active, state.machine.alerts, self._store, at)
        held: set[str] = set()
        if self._warm_up.warming(state.rule.stream.window_s, at):
            samples, held = held_during_warm_up(samples, state.restored)
        try:
            transitions = state.machine.evaluate(samples, at, held=held, limit=state.group.limit)
        except AlertLimitExceeded as exceeded:
            self._metrics.failed(state.group.name, state.rule.name, "limit")
            log.warning("rule evaluation failed rule=%s error=%s", state.key, exceeded)
            return state.failing.failed(at), str(exceeded)
        return [*transitions, *state.failing.succeeded(at)], None

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
        by = rule.stream.by if rule.stream is not None else ()

        def render(alert: Alert) -> dict[str, str]:
            key = tuple(alert.labels.get(name, "") for name in by)
            return render_annotations(
                rule,
                alert.labels,
                alert.value,
                aggregates.get(key) if rule.stream is not None else None,
                self._external_url,
            )

        alerts = {alert.fingerprint: alert for alert in state.machine.alerts}
        state.annotations = RenderedOnRead(alerts, render)

    async def _evaluate_recording_rule(
        self, group: RuleGroup, rule: RecordingRule, key: str, at: datetime, started: float
    ) -> None:
        error = await self._recordings.evaluate(key, group, rule, at)
        duration = _ms_since(started)
        health = self._recording_health[key]
        self._recording_health[key] = (
            health.failed(at, duration, error) if error else health.succeeded(at, duration)
        )

    # -- reading ----------------------------------------------------------------------------

    @property
    def recorded(self) -> dict[str, dict[SeriesKey, float]]:
        """Each recording rule's last series, exported on /metrics: name → label set → value."""
        return self._recordings.series

    def alerts_by_rule(self) -> dict[str, list[Alert]]:
        """Each rule's alerts, its RuleEvaluationFailing alert among them."""
        return {key: _all_alerts(state) for key, state in self._alert_rules.items()}

    def live_alerts(self) -> list[tuple[str, Alert, Mapping[str, str]]]:
        """Every alert the engine holds now: (rule key, alert, annotations)."""
        held: list[tuple[str, Alert, Mapping[str, str]]] = []
        for key, state in self._alert_rules.items():
            held.extend(
                (key, alert, state.annotations.get(alert.fingerprint, {}))
                for alert in _all_alerts(state)
            )
        return held

    def health(self) -> list[RuleHealth]:
        return [
            *(state.health for state in self._alert_rules.values()),
            *self._recording_health.values(),
        ]


def _all_alerts(state: _AlertRuleState) -> list[Alert]:
    return [*state.machine.alerts, *state.failing.alerts]


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0
