"""Instant queries against a real Prometheus: results as scraped, and every failure typed."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from prometheus_harness import MetricsExporter, PrometheusServer

from controlplane.engine.promql import PrometheusClient, PromQLError, PromQLErrorKind, PromSample
from controlplane.engine.promql.client import error_from_answer
from controlplane.settings import load_settings


def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def client(prometheus: PrometheusServer) -> Iterator[PrometheusClient]:
    with PrometheusClient(prometheus.url, timeout_s=5.0) as prometheus_client:
        yield prometheus_client


@pytest.fixture
def queue() -> str:
    return f"q-{uuid.uuid4().hex[:8]}"


async def test_a_query_returns_the_series_prometheus_scraped_with_their_labels(
    client: PrometheusClient,
    prometheus: PrometheusServer,
    metrics_exporter: MetricsExporter,
    queue: str,
) -> None:
    metrics_exporter.queue_depth.labels(queue).set(7)
    prometheus.wait_for_value(f'harness_queue_depth{{queue="{queue}"}}', 7)

    samples = await client.query_instant(f'harness_queue_depth{{queue="{queue}"}}', now())

    assert samples == [
        PromSample(
            labels={
                "__name__": "harness_queue_depth",
                "queue": queue,
                "instance": metrics_exporter.target,
                "job": "harness",
            },
            value=7.0,
        )
    ]


async def test_the_client_queries_the_prometheus_named_in_settings(
    prometheus: PrometheusServer,
) -> None:
    settings = load_settings(None, {"SMSCTL_PROMETHEUS__URL": prometheus.url})
    with PrometheusClient.from_settings(settings.prometheus) as configured:
        assert configured.url == prometheus.url
        assert await configured.query_instant("1 + 1", now()) == [PromSample({}, 2.0)]


async def test_a_query_at_a_time_before_any_data_is_an_empty_result(
    client: PrometheusClient,
) -> None:
    before_prometheus_started = datetime(2020, 1, 1, tzinfo=UTC)
    assert await client.query_instant("harness_queue_depth", before_prometheus_started) == []


async def test_a_scalar_result_is_one_sample_without_labels(client: PrometheusClient) -> None:
    assert await client.query_instant("2 * 21", now()) == [PromSample({}, 42.0)]


async def test_a_bad_expression_raises_with_prometheus_parse_error(
    client: PrometheusClient,
) -> None:
    with pytest.raises(PromQLError) as caught:
        await client.query_instant("sum(rate(harness_requests_total[1m])", now())
    assert caught.value.kind is PromQLErrorKind.BAD_QUERY
    assert "parse error" in caught.value.message
    assert "unclosed left parenthesis" in caught.value.message


async def test_a_range_vector_is_refused_as_a_rule_result(client: PrometheusClient) -> None:
    with pytest.raises(PromQLError) as caught:
        await client.query_instant("harness_queue_depth[1m]", now())
    assert caught.value.kind is PromQLErrorKind.BAD_QUERY
    assert "matrix" in caught.value.message


async def test_an_expression_failing_while_it_runs_raises_prometheus_execution_error(
    client: PrometheusClient,
    prometheus: PrometheusServer,
    metrics_exporter: MetricsExporter,
    queue: str,
) -> None:
    metrics_exporter.queue_depth.labels(f"{queue}-a").set(1)
    metrics_exporter.queue_depth.labels(f"{queue}-b").set(2)
    selector = f'harness_queue_depth{{queue=~"{queue}-.*"}}'
    prometheus.wait_for(selector, lambda result: len(result) == 2)

    with pytest.raises(PromQLError) as caught:
        await client.query_instant(f"{selector} * on() {selector}", now())

    assert caught.value.kind is PromQLErrorKind.EXECUTION
    assert "many-to-many matching not allowed" in caught.value.message


async def test_a_prometheus_that_is_down_raises_down_quickly(closed_port_url: str) -> None:
    started = time.monotonic()
    with PrometheusClient(closed_port_url) as down, pytest.raises(PromQLError) as caught:
        await down.query_instant("up", now())
    assert caught.value.kind is PromQLErrorKind.DOWN
    assert closed_port_url in caught.value.message
    assert time.monotonic() - started < 2  # no retries with backoff


async def test_a_prometheus_that_never_answers_raises_timeout() -> None:
    with socket.socket() as hung:  # accepts connections (backlog) but never replies
        hung.bind(("127.0.0.1", 0))
        hung.listen()
        url = f"http://127.0.0.1:{hung.getsockname()[1]}"
        with PrometheusClient(url, timeout_s=0.2) as client, pytest.raises(PromQLError) as caught:
            await client.query_instant("up", now())
    assert caught.value.kind is PromQLErrorKind.TIMEOUT
    assert "did not answer in 0.2s" in caught.value.message


@pytest.mark.parametrize(
    ("status", "body", "kind", "message"),
    [
        (400, b'{"status":"error","errorType":"bad_data","error":"1:5: parse error"}',
         PromQLErrorKind.BAD_QUERY, "1:5: parse error"),
        (422, b'{"status":"error","errorType":"execution","error":"many-to-many"}',
         PromQLErrorKind.EXECUTION, "many-to-many"),
        (503, b'{"status":"error","errorType":"timeout","error":"query timed out"}',
         PromQLErrorKind.TIMEOUT, "query timed out"),
        (503, b'{"status":"error","errorType":"unavailable","error":"not ready"}',
         PromQLErrorKind.DOWN, "not ready"),
        (503, b"Service Unavailable", PromQLErrorKind.DOWN, "HTTP 503: Service Unavailable"),
        (504, b"gateway timeout", PromQLErrorKind.TIMEOUT, "HTTP 504: gateway timeout"),
        (404, b"404 page not found", PromQLErrorKind.FAILED, "HTTP 404: 404 page not found"),
        (500, b'{"status":"error","errorType":"internal","error":"boom"}',
         PromQLErrorKind.FAILED, "boom"),
    ],
)  # fmt: skip
def test_each_error_answer_maps_to_a_kind_and_keeps_its_text(
    status: int, body: bytes, kind: PromQLErrorKind, message: str
) -> None:
    error = error_from_answer(status, body)
    assert (error.kind, error.message) == (kind, message)
