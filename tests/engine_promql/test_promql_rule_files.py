"""PromQL rules from a rule file on a real Prometheus: label templates, `limit`, `query_offset`."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry
from prometheus_harness import MetricsExporter, PrometheusServer

from controlplane.engine.alerts import AlertState
from controlplane.engine.promql import PrometheusClient, RuleEvaluationMetrics
from controlplane.engine.rules.loader import load_rules_text
from controlplane.engine.rules.model import RuleSet
from controlplane.engine.runtime.alert_log import UnsavedAlertLog
from controlplane.engine.runtime.evaluator import RuleEvaluator
from controlplane.engine.runtime.health import RuleHealth
from controlplane.engine.runtime.sink import AlertNotice
from controlplane.engine.windows import WindowStore
from smsplatform.clock import ManualClock

Alerts = list[tuple[str, AlertState, dict[str, str]]]


class DiscardedNotices:
    async def deliver(self, notices: Sequence[AlertNotice]) -> None:
        return None


def backlog_rules(queues: Sequence[str], *, group_options: str = "", labels: str = "") -> str:
    return f"""
groups:
  - name: queues
{group_options}    rules:
      - alert: QueueBacklog
        expr: harness_queue_depth{{queue=~"{"|".join(queues)}"}} > 10
        labels:
          severity: page
{labels}"""


def two_deep_queues(
    prometheus: PrometheusServer, metrics_exporter: MetricsExporter
) -> tuple[str, str]:
    first, second = sorted(f"q-{uuid.uuid4().hex[:8]}" for _ in range(2))
    metrics_exporter.queue_depth.labels(first).set(25)
    metrics_exporter.queue_depth.labels(second).set(40)
    prometheus.wait_for_value(f'harness_queue_depth{{queue="{first}"}}', 25)
    prometheus.wait_for_value(f'harness_queue_depth{{queue="{second}"}}', 40)
    return first, second


async def evaluate_once(prometheus: PrometheusServer, rules: str) -> tuple[Alerts, RuleHealth]:
    """Load `rules`, evaluate its one group now; the alerts held after it and the rule's health."""
    rule_set = RuleSet(load_rules_text(rules, "queues.yaml"))
    clock = ManualClock(datetime.now(UTC))
    with PrometheusClient(prometheus.url) as client:
        evaluator = RuleEvaluator(
            rule_set,
            WindowStore(clock),
            UnsavedAlertLog(),
            DiscardedNotices(),
            client,
            RuleEvaluationMetrics(CollectorRegistry()),
            clock,
            external_url="",
        )
        await evaluator.evaluate_group(rule_set.groups[0])
    alerts = sorted(
        (
            (alert.labels["alertname"], alert.state, dict(alert.labels))
            for _, alert, _ in evaluator.live_alerts()
        ),
        key=lambda item: sorted(item[2].items()),
    )
    [health] = evaluator.health()
    return alerts, health


async def test_label_templates_are_rendered_per_series_as_prometheus_renders_them(
    prometheus: PrometheusServer, metrics_exporter: MetricsExporter
) -> None:
    first, second = two_deep_queues(prometheus, metrics_exporter)
    labels = (
        "          queue_name: 'queue {{ $labels.queue }}'\n"
        "          depth: '{{ $value }}'\n"
        "          depth_text: '{{ printf \"%.1f\" $value }}'\n"
        '          job: ""\n'  # an empty label removes the series' own
    )

    alerts, health = await evaluate_once(prometheus, backlog_rules([first, second], labels=labels))

    assert health.health == "ok"
    assert alerts == [
        (
            "QueueBacklog",
            AlertState.FIRING,
            {
                "alertname": "QueueBacklog",
                "instance": metrics_exporter.target,
                "queue": queue,
                "severity": "page",
                "queue_name": f"queue {queue}",
                "depth": depth,
                "depth_text": depth_text,
            },
        )
        for queue, depth, depth_text in ((first, "25", "25.0"), (second, "40", "40.0"))
    ]


async def test_a_rule_with_more_alerts_than_its_group_limit_fails_and_produces_none(
    prometheus: PrometheusServer, metrics_exporter: MetricsExporter
) -> None:
    first, second = two_deep_queues(prometheus, metrics_exporter)

    alerts, health = await evaluate_once(
        prometheus, backlog_rules([first, second], group_options="    limit: 1\n")
    )

    assert [(name, state) for name, state, _ in alerts] == [
        ("RuleEvaluationFailing", AlertState.FIRING)
    ]
    assert health.health == "err"
    assert health.last_error == "limit: exceeded limit of 1 with 2 alerts"


async def test_a_rule_with_as_many_alerts_as_its_group_limit_fires_them_all(
    prometheus: PrometheusServer, metrics_exporter: MetricsExporter
) -> None:
    first, second = two_deep_queues(prometheus, metrics_exporter)

    alerts, health = await evaluate_once(
        prometheus, backlog_rules([first, second], group_options="    limit: 2\n")
    )

    assert [(name, state) for name, state, _ in alerts] == [
        ("QueueBacklog", AlertState.FIRING),
        ("QueueBacklog", AlertState.FIRING),
    ]
    assert health.health == "ok"


async def test_query_offset_queries_prometheus_that_long_before_the_evaluation(
    prometheus: PrometheusServer, metrics_exporter: MetricsExporter
) -> None:
    first, second = two_deep_queues(prometheus, metrics_exporter)
    rules = backlog_rules([first, second], group_options="    query_offset: 1h\n")

    an_hour_ago, health = await evaluate_once(prometheus, rules)  # before Prometheus had data
    now, _ = await evaluate_once(prometheus, rules.replace("query_offset: 1h", "query_offset: 0s"))

    assert (an_hour_ago, health.health) == ([], "ok")
    assert [state for _, state, _ in now] == [AlertState.FIRING, AlertState.FIRING]
