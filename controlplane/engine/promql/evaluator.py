"""Evaluates a PromQL alert rule: its query result becomes the alert state machine's samples.

Prometheus alert semantics: the expression's result set IS the set of firing series, so every
returned series is an active sample, labelled with the series' labels minus `__name__`, then the
rule's labels, then `alertname`. A query that fails leaves the rule's alerts exactly as they
were (never a silent resolve) and raises the rule's `RuleEvaluationFailing` alert instead.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from controlplane.engine.alerts import (
    Alert,
    AlertStateMachine,
    AlertTransition,
    Sample,
    StateTiming,
)
from controlplane.engine.promql.client import PromQLError, PromQLErrorKind, PromSample
from controlplane.engine.promql.metrics import RuleEvaluationMetrics

log = logging.getLogger(__name__)

EVALUATION_FAILING = "RuleEvaluationFailing"


class InstantQuerier(Protocol):
    """What the evaluator needs from a Prometheus client (`PrometheusClient` is one)."""

    async def query_instant(self, expr: str, at: datetime) -> list[PromSample]: ...


@dataclass(frozen=True)
class PromQLAlertRule:
    """What evaluating one PromQL alert rule needs; the engine's rule model maps onto it."""

    group: str
    alertname: str
    expr: str
    labels: Mapping[str, str] = field(default_factory=dict)
    timing: StateTiming = field(default_factory=StateTiming)


@dataclass(frozen=True)
class RuleEvaluation:
    """One evaluation's outcome: the rule's transitions, or the error that prevented them."""

    at: datetime
    transitions: list[AlertTransition]  # the rule's own alerts; empty when the query failed
    failing_transitions: list[AlertTransition]  # its RuleEvaluationFailing alert
    error: PromQLError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def alert_samples(series: Iterable[PromSample], rule: PromQLAlertRule) -> list[Sample]:
    """Every series as an active sample with the alert's labels; raises on a label-set clash.

    Two series that end up with the same labels would be one alert with two values, which
    Prometheus refuses in the same words.
    """
    samples: list[Sample] = []
    seen: set[frozenset[tuple[str, str]]] = set()
    for one in series:
        labels = {name: value for name, value in one.labels.items() if name != "__name__"}
        labels.update(rule.labels)
        labels["alertname"] = rule.alertname
        key = frozenset(labels.items())
        if key in seen:
            raise PromQLError(
                PromQLErrorKind.EXECUTION,
                "vector contains metrics with the same labelset after applying alert labels",
            )
        seen.add(key)
        samples.append(Sample(labels=labels, value=one.value, active=True))
    return samples


class PromQLAlertEvaluator:
    """One PromQL alert rule's alerts and evaluation health, advanced once per interval."""

    def __init__(
        self,
        rule: PromQLAlertRule,
        client: InstantQuerier,
        metrics: RuleEvaluationMetrics | None = None,
        *,
        alerts: Iterable[Alert] = (),
        failing_alerts: Iterable[Alert] = (),
        failing_timing: StateTiming | None = None,
        failing_labels: Mapping[str, str] | None = None,
    ) -> None:
        self.rule = rule
        self.machine = AlertStateMachine(rule.timing, alerts)
        # The health alert has its own machine, so it fires, resolves and restores like any other.
        self.failing_machine = AlertStateMachine(failing_timing or StateTiming(), failing_alerts)
        self._client = client
        self._metrics = metrics
        self._failing_labels = {
            **(failing_labels if failing_labels is not None else {"severity": "critical"}),
            "alertname": EVALUATION_FAILING,
            "rule_group": rule.group,
            "rule": rule.alertname,
        }
        self.consecutive_failures = 0

    async def samples(self, at: datetime) -> list[Sample]:
        """This rule's samples at `at`; raises `PromQLError` when Prometheus gives no result."""
        return alert_samples(await self._client.query_instant(self.rule.expr, at), self.rule)

    async def evaluate(self, at: datetime) -> RuleEvaluation:
        """Query, then advance the alerts; on failure only the RuleEvaluationFailing alert moves."""
        group, name = self.rule.group, self.rule.alertname
        if self._metrics:
            self._metrics.evaluated(group, name)
        try:
            samples = await self.samples(at)
        except PromQLError as error:
            return self._failed(error, at)
        if self.consecutive_failures:
            log.info(
                "promql rule evaluation recovered group=%s rule=%s failures=%d",
                group,
                name,
                self.consecutive_failures,
            )
        self.consecutive_failures = 0
        return RuleEvaluation(
            at=at,
            transitions=self.machine.evaluate(samples, at),
            failing_transitions=self.failing_machine.evaluate([], at),
        )

    def _failed(self, error: PromQLError, at: datetime) -> RuleEvaluation:
        group, name = self.rule.group, self.rule.alertname
        self.consecutive_failures += 1
        if self._metrics:
            self._metrics.failed(group, name, error.kind.value)
        # Log the first failure loudly and repeats quietly: the alert and metric carry on.
        level = logging.WARNING if self.consecutive_failures == 1 else logging.DEBUG
        log.log(
            level,
            "promql rule evaluation failed group=%s rule=%s reason=%s failures=%d error=%r",
            group,
            name,
            error.kind.value,
            self.consecutive_failures,
            error.message,
        )
        failing = Sample(self._failing_labels, float(self.consecutive_failures), active=True)
        return RuleEvaluation(
            at=at,
            transitions=[],
            failing_transitions=self.failing_machine.evaluate([failing], at),
            error=error,
        )
