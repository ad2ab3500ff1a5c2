"""PromQL rules: instant queries to Prometheus, their alerts and recordings, promtool rule tests."""

from controlplane.engine.promql.client import (
    PrometheusClient,
    PromQLError,
    PromQLErrorKind,
    PromSample,
)
from controlplane.engine.promql.evaluator import (
    InstantQuerier,
    PromQLAlertEvaluator,
    PromQLAlertRule,
    RuleEvaluation,
    alert_samples,
)
from controlplane.engine.promql.metrics import RuleEvaluationMetrics
from controlplane.engine.promql.promformat import (
    PrometheusRuleFile,
    is_promql_rule,
    prometheus_rule_file,
)
from controlplane.engine.promql.promtool import PromtoolError, PromtoolResult, run_promtool_tests
from controlplane.engine.promql.recording import (
    PromQLRecordingRule,
    SeriesKey,
    record,
    recorded_series,
)

__all__ = [
    "InstantQuerier",
    "PromQLAlertEvaluator",
    "PromQLAlertRule",
    "PromQLError",
    "PromQLErrorKind",
    "PromQLRecordingRule",
    "PromSample",
    "PrometheusClient",
    "PrometheusRuleFile",
    "PromtoolError",
    "PromtoolResult",
    "RuleEvaluation",
    "RuleEvaluationMetrics",
    "SeriesKey",
    "alert_samples",
    "is_promql_rule",
    "prometheus_rule_file",
    "record",
    "recorded_series",
    "run_promtool_tests",
]
