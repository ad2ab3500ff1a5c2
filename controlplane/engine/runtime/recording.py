"""Evaluates recording rules, over windows or through Prometheus, and holds what they recorded.

A stream rule records its `value` per label set of its window; a PromQL rule records its query's
result (promql.recording). Both fail the same way: the failure is counted on the rule evaluation
failure metric PromQL alert rules use, by reason, and the rule's last series stay as they were,
since a failed evaluation is no evidence of an empty result (nor of a zero). A rule with more
series than its group's `limit` is the one exception: as in Prometheus, all its series go.
"""

from __future__ import annotations

import logging
from datetime import datetime

from controlplane.engine.cel_expr import CelEvaluationError
from controlplane.engine.programs import WindowProgram
from controlplane.engine.promql import (
    InstantQuerier,
    PromQLError,
    PromQLRecordingRule,
    RuleEvaluationMetrics,
    SeriesKey,
    record,
)
from controlplane.engine.rules.model import RecordingRule, RuleGroup
from controlplane.engine.runtime.stream_rules import compile_recording, recorded_values
from controlplane.engine.windows import WindowStore

log = logging.getLogger(__name__)


class RecordingRules:
    """The recording rules of one rule set, by rule key, and the series they recorded last."""

    def __init__(
        self, store: WindowStore, prometheus: InstantQuerier, metrics: RuleEvaluationMetrics
    ) -> None:
        self._store = store
        self._prometheus = prometheus
        self._metrics = metrics
        self._programs: dict[str, WindowProgram] = {}
        self._promql: dict[str, PromQLRecordingRule] = {}
        # Exported on /metrics (RecordedSeriesCollector): record name → label set → value.
        self.series: dict[str, dict[SeriesKey, float]] = {}

    def add(self, key: str, group: RuleGroup, rule: RecordingRule) -> None:
        if rule.stream is not None:
            self._programs[key] = compile_recording(self._store, rule)
            return
        assert rule.expr is not None
        self._promql[key] = PromQLRecordingRule(
            rule.name, rule.expr, rule.labels, query_offset_s=group.query_offset_s
        )

    async def evaluate(
        self, key: str, group: RuleGroup, rule: RecordingRule, at: datetime
    ) -> str | None:
        """Record the rule's series at `at`; returns the error that failed it, if any."""
        self._metrics.evaluated(group.name, rule.name)
        try:
            series = await self._series(key, rule, at)
        except (CelEvaluationError, ValueError) as exc:
            return self._failed(group, rule, "cel", str(exc))
        except PromQLError as exc:
            return self._failed(group, rule, exc.kind.value, str(exc))
        if group.limit and len(series) > group.limit:
            self.series.pop(rule.name, None)
            error = f"exceeded limit of {group.limit} with {len(series)} series"
            return self._failed(group, rule, "limit", error)
        self.series[rule.name] = series
        return None

    async def _series(self, key: str, rule: RecordingRule, at: datetime) -> dict[SeriesKey, float]:
        promql = self._promql.get(key)
        if promql is not None:
            return await record(promql, self._prometheus, at)
        return recorded_values(rule, self._programs[key], self._store, at)

    def _failed(self, group: RuleGroup, rule: RecordingRule, reason: str, error: str) -> str:
        self._metrics.failed(group.name, rule.name, reason)
        log.warning(
            "recording rule evaluation failed group=%s rule=%s reason=%s error=%r",
            group.name,
            rule.name,
            reason,
            error,
        )
        return error
