"""PromQL rules: instant queries to Prometheus, their alerts, and promtool rule tests."""

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

__all__ = [
    "InstantQuerier",
    "PromQLAlertEvaluator",
    "PromQLAlertRule",
    "PromQLError",
    "PromQLErrorKind",
    "PromSample",
    "PrometheusClient",
    "PrometheusRuleFile",
    "PromtoolError",
    "PromtoolResult",
    "RuleEvaluation",
    "RuleEvaluationMetrics",
    "alert_samples",
    "is_promql_rule",
    "prometheus_rule_file",
    "run_promtool_tests",
]
