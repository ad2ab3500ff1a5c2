"""Rule evaluation counters, so a rule that cannot be evaluated shows on /metrics."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter


class RuleEvaluationMetrics:
    """Evaluations and failed evaluations per rule; register once per registry and share it."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.evaluations = Counter(
            "smsctl_rule_evaluations_total",
            "Rule evaluations attempted.",
            ["rule_group", "rule"],
            registry=registry,
        )
        self.failures = Counter(
            "smsctl_rule_evaluation_failures_total",
            "Rule evaluations that produced no result, by reason (down, timeout, bad_query, ...).",
            ["rule_group", "rule", "reason"],
            registry=registry,
        )

    def evaluated(self, group: str, rule: str) -> None:
        self.evaluations.labels(group, rule).inc()

    def failed(self, group: str, rule: str, reason: str) -> None:
        self.failures.labels(group, rule, reason).inc()
