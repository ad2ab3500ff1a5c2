"""PromQL alert rules on a real Prometheus: they fire, resolve, and fail loudly, never silently."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import pytest
from prometheus_client import CollectorRegistry
from prometheus_harness import MetricsExporter, PrometheusServer

from controlplane.engine.alerts import EVALUATION_FAILING, AlertState
from controlplane.engine.promql import (
    PrometheusClient,
    PromQLAlertEvaluator,
    PromQLAlertRule,
    PromQLError,
    PromQLErrorKind,
    PromSample,
    RuleEvaluationMetrics,
    alert_samples,
)
from controlplane.engine.rules.templates import compile_template


def now() -> datetime:
    return datetime.now(UTC)


def queue_rule(queue: str, threshold: float = 10) -> PromQLAlertRule:
    return PromQLAlertRule(
        group="queues",
        alertname="QueueBacklog",
        expr=f'harness_queue_depth{{queue="{queue}"}} > {threshold}',
        labels={"severity": compile_template("page")},
    )


def failures(registry: CollectorRegistry, reason: str) -> float | None:
    return registry.get_sample_value(
        "smsctl_rule_evaluation_failures_total",
        {"rule_group": "queues", "rule": "QueueBacklog", "reason": reason},
    )


async def test_an_alert_fires_when_the_scraped_value_crosses_the_threshold_and_resolves_below(
    prometheus: PrometheusServer, metrics_exporter: MetricsExporter
) -> None:
    queue = f"q-{uuid.uuid4().hex[:8]}"
    series = f'harness_queue_depth{{queue="{queue}"}}'
    with PrometheusClient(prometheus.url) as client:
        evaluator = PromQLAlertEvaluator(queue_rule(queue), client)

        metrics_exporter.queue_depth.labels(queue).set(5)
        prometheus.wait_for_value(series, 5)
        quiet = await evaluator.evaluate(now())
        assert (quiet.ok, quiet.transitions, evaluator.machine.alerts) == (True, [], [])

        metrics_exporter.queue_depth.labels(queue).set(25)
        prometheus.wait_for_value(series, 25)
        [fired] = (await evaluator.evaluate(now())).transitions
        assert fired.current is AlertState.FIRING
        assert fired.alert.value == 25.0
        assert fired.alert.labels == {
            "alertname": "QueueBacklog",
            "severity": "page",
            "queue": queue,
            "instance": metrics_exporter.target,
            "job": "harness",
        }

        metrics_exporter.queue_depth.labels(queue).set(3)
        prometheus.wait_for_value(series, 3)
        [resolved] = (await evaluator.evaluate(now())).transitions
        assert (resolved.previous, resolved.current) == (AlertState.FIRING, AlertState.RESOLVED)


async def test_prometheus_going_down_keeps_the_alert_firing_and_raises_rule_evaluation_failing(
    start_prometheus: Callable[[Sequence[str]], PrometheusServer],
    metrics_exporter: MetricsExporter,
) -> None:
    queue = f"q-{uuid.uuid4().hex[:8]}"
    metrics_exporter.queue_depth.labels(queue).set(50)
    own_prometheus = start_prometheus([metrics_exporter.target])
    own_prometheus.wait_for_value(f'harness_queue_depth{{queue="{queue}"}}', 50)
    registry = CollectorRegistry()
    with PrometheusClient(own_prometheus.url, timeout_s=2.0) as client:
        evaluator = PromQLAlertEvaluator(queue_rule(queue), client, RuleEvaluationMetrics(registry))
        [fired] = (await evaluator.evaluate(now())).transitions
        assert fired.current is AlertState.FIRING

        own_prometheus.stop()
        with pytest.raises(PromQLError) as caught:
            await evaluator.samples(now())  # an error, not an empty result
        assert caught.value.kind is PromQLErrorKind.DOWN
        failed = await evaluator.evaluate(now())

        assert failed.error is not None and failed.error.kind is PromQLErrorKind.DOWN
        assert failed.transitions == []
        assert [a.state for a in evaluator.machine.alerts] == [AlertState.FIRING]
        [failing] = failed.failing_transitions
        assert failing.current is AlertState.FIRING
        assert failing.alert.labels == {
            "alertname": EVALUATION_FAILING,
            "rule_group": "queues",
            "rule": "QueueBacklog",
            "severity": "critical",
        }
        assert failures(registry, "down") == 1

        own_prometheus.start(wait_for_scrape=False)  # same port and data: the value is back
        recovered = await evaluator.evaluate(now())

    assert recovered.ok and recovered.transitions == []  # still firing, not fired again
    [cleared] = recovered.failing_transitions
    assert (cleared.previous, cleared.current) == (AlertState.FIRING, AlertState.RESOLVED)
    assert [a.state for a in evaluator.machine.alerts] == [AlertState.FIRING]
    assert failures(registry, "down") == 1


async def test_an_unreachable_prometheus_is_an_evaluation_error_on_every_interval(
    closed_port_url: str,
) -> None:
    registry = CollectorRegistry()
    with PrometheusClient(closed_port_url) as client:
        evaluator = PromQLAlertEvaluator(queue_rule("any"), client, RuleEvaluationMetrics(registry))
        first = await evaluator.evaluate(now())
        second = await evaluator.evaluate(now())

    assert first.error is not None and second.error is not None
    assert [t.current for t in first.failing_transitions] == [AlertState.FIRING]
    assert second.failing_transitions == []  # still firing: one alert, not one per evaluation
    assert evaluator.failing.alerts[0].value == 2.0  # consecutive failures
    assert failures(registry, "down") == 2
    assert (
        registry.get_sample_value(
            "smsctl_rule_evaluations_total", {"rule_group": "queues", "rule": "QueueBacklog"}
        )
        == 2
    )


async def test_a_bad_expression_is_an_evaluation_error_with_prometheus_message(
    prometheus: PrometheusServer,
) -> None:
    rule = PromQLAlertRule(group="queues", alertname="QueueBacklog", expr="harness_queue_depth >")
    registry = CollectorRegistry()
    with PrometheusClient(prometheus.url) as client:
        evaluation = await PromQLAlertEvaluator(
            rule, client, RuleEvaluationMetrics(registry)
        ).evaluate(now())
    assert evaluation.error is not None
    assert evaluation.error.kind is PromQLErrorKind.BAD_QUERY
    assert "parse error" in evaluation.error.message
    assert failures(registry, "bad_query") == 1


def test_alert_labels_are_series_labels_without_name_then_rule_labels_then_alertname() -> None:
    rule = PromQLAlertRule(
        group="g",
        alertname="SendApiErrors",
        expr="unused",
        labels={
            name: compile_template(value)
            for name, value in {
                "severity": "critical",
                "team": "sms",
                "alertname": "ignored",
            }.items()
        },
    )
    series = PromSample({"__name__": "x", "route": "/send", "team": "api"}, 2.5)

    [sample] = alert_samples([series], rule)

    assert sample.labels == {
        "route": "/send",
        "team": "sms",
        "severity": "critical",
        "alertname": "SendApiErrors",
    }
    assert (sample.value, sample.active, sample.no_data) == (2.5, True, False)


def test_two_series_with_one_label_set_after_dropping_the_name_are_refused() -> None:
    rule = PromQLAlertRule(group="g", alertname="A", expr="unused")
    twins = [
        PromSample({"__name__": "a", "job": "x"}, 1),
        PromSample({"__name__": "b", "job": "x"}, 2),
    ]
    with pytest.raises(PromQLError, match="same labelset after applying alert labels"):
        alert_samples(twins, rule)
