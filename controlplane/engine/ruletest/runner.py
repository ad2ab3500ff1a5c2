"""Runs a stream test in-process: its timeline into windows on a ManualClock, the real evaluator.

As promtool does with input_series: every group is evaluated at t=0 and then every
`evaluation_interval` up to the test's last `eval_time` (group `interval`s do not apply), and an
`eval_time` between two evaluations is judged on the one before it: its firing alerts, and the
series each recording rule recorded then. Events up to and including
an evaluation's time are ingested before it, each batch with the clock at its own time, since
windows file events under the clock at ingest. A rule whose evaluation fails stops the test with
the error, as in promtool. Nothing is stored and nothing is notified: alerts live in memory.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from prometheus_client import CollectorRegistry

from controlplane.engine.alerts import AlertState
from controlplane.engine.promql import PrometheusClient, RuleEvaluationMetrics
from controlplane.engine.rules.durations import format_duration
from controlplane.engine.rules.model import RuleGroup, RuleSet
from controlplane.engine.ruletest.model import (
    AlertTestCase,
    ExpectedAlert,
    RecordedTestCase,
    Sample,
    StreamTest,
)
from controlplane.engine.ruletest.samples import samples_match
from controlplane.engine.ruletest.timeline import EPOCH, TimedBatch, time_at, timeline
from controlplane.engine.runtime.alert_log import UnsavedAlertLog
from controlplane.engine.runtime.evaluator import RuleEvaluator
from controlplane.engine.runtime.sink import AlertNotice
from controlplane.engine.windows import WindowStore
from smsplatform.clock import ManualClock

Pairs = tuple[tuple[str, str], ...]
Case = TypeVar("Case", AlertTestCase, RecordedTestCase)
# Templates reading `external_url` see this, as promtool's rule manager has none configured.
_EXTERNAL_URL = ""
# Never asked: stream tests evaluate stream rules only (PromQL rules are promtool's).
_NO_PROMETHEUS = "http://127.0.0.1:9"


@dataclass(frozen=True, order=True)
class FiringAlert:
    """What a test compares of one firing alert: its labels and annotations, sorted by name."""

    labels: Pairs
    annotations: Pairs

    @classmethod
    def of(cls, labels: Mapping[str, str], annotations: Mapping[str, str]) -> FiringAlert:
        return cls(tuple(sorted(labels.items())), tuple(sorted(annotations.items())))


@dataclass(frozen=True)
class AlertMismatch:
    """An alert test whose firing alerts were not the expected ones."""

    case: AlertTestCase
    expected: tuple[FiringAlert, ...]
    got: tuple[FiringAlert, ...]


@dataclass(frozen=True)
class SampleMismatch:
    """A recorded test whose recording rule did not hold the expected series and values."""

    case: RecordedTestCase
    got: tuple[Sample, ...]  # sorted by labels, as the case's expected samples are


@dataclass(frozen=True)
class StreamTestResult:
    """A stream test's mismatches, and the evaluation error that stopped it, if one did."""

    test: StreamTest
    mismatches: tuple[AlertMismatch, ...] = ()
    error: str | None = None
    sample_mismatches: tuple[SampleMismatch, ...] = ()

    @property
    def passed(self) -> bool:
        return not self.mismatches and not self.sample_mismatches and self.error is None


def stream_rules_only(rule_set: RuleSet) -> RuleSet:
    """The rule set without its PromQL rules, which input_series tests give to promtool."""
    groups = tuple(
        replace(group, rules=tuple(rule for rule in group.rules if not rule.is_promql))
        for group in rule_set.groups
    )
    return RuleSet(groups, rule_set.files)


def expected_alerts(case: AlertTestCase) -> tuple[FiringAlert, ...]:
    """The alerts a case expects; `alertname` is added to each, as promtool adds it."""
    return tuple(sorted(_expected(case.alertname, alert) for alert in case.expected))


def _expected(alertname: str, alert: ExpectedAlert) -> FiringAlert:
    return FiringAlert.of({**alert.labels, "alertname": alertname}, alert.annotations)


class _DiscardingSink:
    """Where a test's alert notices go: nowhere (tests read the evaluator's alerts instead)."""

    async def deliver(self, notices: Sequence[AlertNotice]) -> None:
        return None


async def run_stream_test(
    test: StreamTest,
    rule_set: RuleSet,
    evaluation_interval_ms: int,
    group_eval_order: Sequence[str] = (),
) -> StreamTestResult:
    """Run `test` against the stream rules of `rule_set`; its result, mismatches first to last."""
    clock = ManualClock(EPOCH)
    store = WindowStore(clock)
    position = {name: index for index, name in enumerate(group_eval_order)}
    # promtool's partial order: named groups in the order given, the rest as if named first.
    groups = sorted(rule_set.groups, key=lambda group: position.get(group.name, 0))
    alert_cases = sorted(test.alert_tests, key=lambda case: case.eval_time_ms)
    recorded_cases = sorted(test.recorded_tests, key=lambda case: case.eval_time_ms)
    with PrometheusClient(_NO_PROMETHEUS) as prometheus:
        evaluator = RuleEvaluator(
            rule_set,
            store,
            UnsavedAlertLog(),
            _DiscardingSink(),
            prometheus,
            RuleEvaluationMetrics(CollectorRegistry()),
            clock,
            external_url=_EXTERNAL_URL,
        )
        batches = _Feed(timeline(test.events), store, clock)
        mismatches: list[AlertMismatch] = []
        sample_mismatches: list[SampleMismatch] = []
        error: str | None = None
        for step_ms in range(0, test.max_eval_time_ms + 1, evaluation_interval_ms):
            batches.ingest_through(step_ms)
            error = await _evaluate(evaluator, groups, step_ms)
            if error is not None:
                break
            before_next_ms = step_ms + evaluation_interval_ms
            for case in _due(alert_cases, before_next_ms):
                got = _firing(evaluator, case.alertname)
                expected = expected_alerts(case)
                if got != expected:
                    mismatches.append(AlertMismatch(case, expected, got))
            for recorded_case in _due(recorded_cases, before_next_ms):
                got_samples = _recorded(evaluator, recorded_case.record)
                if not samples_match(recorded_case.expected, got_samples):
                    sample_mismatches.append(SampleMismatch(recorded_case, got_samples))
    return StreamTestResult(test, tuple(mismatches), error, tuple(sample_mismatches))


def _due(cases: list[Case], before_ms: int) -> Iterator[Case]:
    """Take the cases due before `before_ms` off the front of `cases` (sorted by eval_time)."""
    while cases and cases[0].eval_time_ms < before_ms:
        yield cases.pop(0)


class _Feed:
    """The timeline's batches, ingested in order with the clock at each batch's time."""

    def __init__(self, batches: Iterator[TimedBatch], store: WindowStore, clock: ManualClock):
        self._batches = batches
        self._next = next(batches, None)
        self._store = store
        self._clock = clock
        self._now_ms = 0

    def ingest_through(self, until_ms: int) -> None:
        """Ingest every batch up to `until_ms` (inclusive), then leave the clock at `until_ms`."""
        while self._next is not None and self._next.at_ms <= until_ms:
            self._move_to(self._next.at_ms)
            self._store.add_batch(self._next.source, self._next.events)
            self._next = next(self._batches, None)
        self._move_to(until_ms)

    def _move_to(self, at_ms: int) -> None:
        self._clock.advance((at_ms - self._now_ms) / 1000)
        self._now_ms = at_ms


async def _evaluate(
    evaluator: RuleEvaluator, groups: Sequence[RuleGroup], step_ms: int
) -> str | None:
    """Evaluate every group at `step_ms`; the first failed rule's error, promtool-worded."""
    now = time_at(step_ms)
    at = format_duration(step_ms / 1000)
    for group in groups:
        try:
            await evaluator.evaluate_group(group, now)
        except Exception as exc:  # a crash in a rule is that test's failure, not a traceback
            return f"    group: {group.name}, time: {at}, err: {type(exc).__name__}: {exc}"
    for health in evaluator.health():
        if health.health == "err" and health.last_evaluated_at == now:
            return f"    rule: {health.rule_key}, time: {at}, err: {health.last_error}"
    return None


def _recorded(evaluator: RuleEvaluator, record: str) -> tuple[Sample, ...]:
    """The series the recording rule named `record` recorded at its last evaluation."""
    return tuple(
        sorted(
            Sample(labels, value) for labels, value in evaluator.recorded.get(record, {}).items()
        )
    )


def _firing(evaluator: RuleEvaluator, alertname: str) -> tuple[FiringAlert, ...]:
    """Every firing alert named `alertname`, from every group (pending ones are not listed)."""
    return tuple(
        sorted(
            FiringAlert.of(alert.labels, annotations)
            for _, alert, annotations in evaluator.live_alerts()
            if alert.state is AlertState.FIRING and alert.labels.get("alertname") == alertname
        )
    )
