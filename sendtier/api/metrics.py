"""The send API's Prometheus metrics, on a registry of its own per app."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from sendtier.service_metrics import http_requests_counter


class SendApiMetrics:
    """Every metric the send API exports on /metrics."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.http_requests = http_requests_counter("api", self.registry)
        self.accept_seconds = Histogram(
            "sendtier_api_accept_seconds",
            "Time from reading a send request to answering it (bus publish included).",
            ["route"],
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=self.registry,
        )
        self.messages_accepted = Counter(
            "sendtier_api_messages_accepted_total",
            "Messages accepted and handed to the bus.",
            ["message_class", "carrier"],
            registry=self.registry,
        )
        self.segments_accepted = Counter(
            "sendtier_api_segments_accepted_total",
            "Billed segments of the accepted messages.",
            ["message_class"],
            registry=self.registry,
        )
        self.messages_refused = Counter(
            "sendtier_api_messages_refused_total",
            "Messages refused, by reason (invalid, opted_out, unavailable, or the limit's name).",
            ["reason"],
            registry=self.registry,
        )
