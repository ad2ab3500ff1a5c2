"""The consumers of a service on /metrics: up or not, time since progress, poison and errors."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from smsplatform.bus.liveness import STAGES, LivenessRegistry


class ConsumerCollector(Collector):
    """`<prefix>_consumer_up{consumer}` and its companions, read from the registry per scrape."""

    def __init__(self, consumers: LivenessRegistry, prefix: str) -> None:
        self._consumers = consumers
        self._prefix = prefix

    def collect(self) -> Iterator[Metric]:
        prefix = self._prefix
        up = GaugeMetricFamily(
            f"{prefix}_consumer_up",
            "1 while the bus consumer's loop runs and makes progress; 0 when stuck or stopped.",
            labels=["consumer"],
        )
        since = GaugeMetricFamily(
            f"{prefix}_consumer_seconds_since_progress",
            "Seconds since the bus consumer last completed a fetch and its batch.",
            labels=["consumer"],
        )
        poison = CounterMetricFamily(
            f"{prefix}_consumer_poison_messages",
            "Bus messages the consumer could not decode; acked and dropped.",
            labels=["consumer"],
        )
        errors = CounterMetricFamily(
            f"{prefix}_consumer_errors",
            "Failed fetches (stage=fetch) and failed batches, nak'ed (stage=handle).",
            labels=["consumer", "stage"],
        )
        for status in self._consumers.statuses():
            name = status.name
            up.add_metric([name], 1.0 if status.state == "up" else 0.0)
            since.add_metric([name], status.seconds_since_progress)
            poison.add_metric([name], status.poison_messages)
            for stage in STAGES:
                errors.add_metric([name, stage], status.errors[stage])
        yield from (up, since, poison, errors)
