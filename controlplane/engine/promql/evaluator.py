"""Evaluates a PromQL alert rule: its query result becomes the alert state machine's samples.

Prometheus alert semantics: the expression's result set IS the set of firing series, so every
returned series is an active sample, labelled with the series' labels minus `__name__`, then the
rule's labels rendered for that series (`{{ $labels.job }}`, `{{ $value }}`; a label that renders
empty is dropped), then `alertname`. The query runs at the evaluation time minus the group's
`query_offset`. A query that fails leaves the rule's alerts exactly as they were (never a silent
resolve) and raises the rule's `RuleEvaluationFailing` alert instead. A result with more alerts
than the group's `limit` is a failure too, but, as in Prometheus, it clears the rule's alerts.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from controlplane.engine.alerts import (
    Alert,
    AlertLimitExceeded,
    AlertStateMachine,
    AlertTransition,
    EvaluationFailingAlert,
    Sample,
    StateTiming,
)
from controlplane.engine.promql.client import PromQLError, PromQLErrorKind, PromSample
from controlplane.engine.promql.metrics import RuleEvaluationMetrics
from controlplane.engine.rules.templates import RuleTemplate, TemplateContext

log = logging.getLogger(__name__)


class InstantQuerier(Protocol):
    """What the evaluator needs from a Prometheus client (`PrometheusClient` is one)."""

    async def query_instant(self, expr: str, at: datetime) -> list[PromSample]: ...


@dataclass(frozen=True)
class PromQLAlertRule:
    """What evaluating one PromQL alert rule needs; the engine's rule model maps onto it."""

    group: str
    alertname: str
    expr: str
    labels: Mapping[str, RuleTemplate] = field(default_factory=dict)
    timing: StateTiming = field(default_factory=StateTiming)
    limit: int = 0  # the group's: more alerts than this fail the evaluation (0 = no limit)
    query_offset_s: float = 0.0  # the group's: how far before the evaluation time to query


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
        # Prometheus gives label templates the series' labels as they came, `__name__` included.
        context = TemplateContext(labels=one.labels, value=one.value)
        for name, template in rule.labels.items():
            rendered = template.render(context)
            if rendered:
                labels[name] = rendered
            else:  # as Prometheus' label builder does with an empty value
                labels.pop(name, None)
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
        failing: EvaluationFailingAlert | None = None,
    ) -> None:
        self.rule = rule
        self.machine = AlertStateMachine(rule.timing, alerts)
        self.failing = failing or EvaluationFailingAlert(rule.group, rule.alertname)
        self._client = client
        self._metrics = metrics

    async def samples(self, at: datetime) -> list[Sample]:
        """This rule's samples at `at`; raises `PromQLError` when Prometheus gives no result."""
        query_at = at - timedelta(seconds=self.rule.query_offset_s)
        return alert_samples(await self._client.query_instant(self.rule.expr, query_at), self.rule)

    async def evaluate(self, at: datetime) -> RuleEvaluation:
        """Query, then advance the alerts; on failure only the RuleEvaluationFailing alert moves."""
        group, name = self.rule.group, self.rule.alertname
        if self._metrics:
            self._metrics.evaluated(group, name)
        try:
            samples = await self.samples(at)
            transitions = self.machine.evaluate(samples, at, limit=self.rule.limit)
        except PromQLError as error:
            return self._failed(error, at)
        except AlertLimitExceeded as exceeded:
            return self._failed(PromQLError(PromQLErrorKind.LIMIT, str(exceeded)), at)
        if self.failing.consecutive_failures:
            log.info(
                "promql rule evaluation recovered group=%s rule=%s failures=%d",
                group,
                name,
                self.failing.consecutive_failures,
            )
        return RuleEvaluation(
            at=at, transitions=transitions, failing_transitions=self.failing.succeeded(at)
        )

    def _failed(self, error: PromQLError, at: datetime) -> RuleEvaluation:
        group, name = self.rule.group, self.rule.alertname
        failing_transitions = self.failing.failed(at)
        if self._metrics:
            self._metrics.failed(group, name, error.kind.value)
        # Log the first failure loudly and repeats quietly: the alert and metric carry on.
        level = logging.WARNING if self.failing.consecutive_failures == 1 else logging.DEBUG
        log.log(
            level,
            "promql rule evaluation failed group=%s rule=%s reason=%s failures=%d error=%r",
            group,
            name,
            error.kind.value,
            self.failing.consecutive_failures,
            error.message,
        )
        return RuleEvaluation(
            at=at, transitions=[], failing_transitions=failing_transitions, error=error
        )
