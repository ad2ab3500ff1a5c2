"""The control plane's own Prometheus metrics, on a registry per service instance."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class ControlPlaneMetrics:
    """Every metric the control plane exports on /metrics."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.events_accepted = Counter(
            "smsctl_events_accepted_total",
            "Events accepted by ingest and handed to the bus.",
            ["kind"],
            registry=self.registry,
        )
        self.events_rejected = Counter(
            "smsctl_events_rejected_total",
            "Events refused by ingest, by reason.",
            ["kind", "reason"],
            registry=self.registry,
        )
        self.events_persisted = Counter(
            "smsctl_events_persisted_total",
            "Events written to storage (redelivered duplicates are counted but stored once).",
            ["kind"],
            registry=self.registry,
        )
        self.persist_batch_seconds = Histogram(
            "smsctl_persist_batch_seconds",
            "Time to write one batch of events to storage.",
            ["kind"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )
        self.persist_failures = Counter(
            "smsctl_persist_failures_total",
            "Batches whose write failed and were left on the bus for redelivery.",
            ["kind"],
            registry=self.registry,
        )
        self.bus_pending = Gauge(
            "smsctl_bus_pending",
            "Messages on a subject not yet acknowledged by its storage consumer.",
            ["subject"],
            registry=self.registry,
        )
        self.http_requests = Counter(
            "smsctl_http_requests_total",
            "HTTP requests served, by route template and status code.",
            ["route", "code"],
            registry=self.registry,
        )
