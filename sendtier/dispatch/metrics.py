"""The dispatcher's Prometheus metrics, on a registry per dispatcher instance."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from sendtier.service_metrics import bus_pending_gauge, http_requests_counter

# Supplier submit latencies run from tens of milliseconds to the adapter timeout (5 s default).
_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.2, 0.4, 0.8, 1.5, 3, 5, 10)
# Up to the largest batch a supplier takes (Tencent's 200 numbers).
_CALL_SIZE_BUCKETS = (1, 2, 5, 10, 25, 50, 100, 200)


class DispatchMetrics:
    """Every metric the dispatcher exports on /metrics."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.submits = Counter(
            "smsctl_dispatch_submits_total",
            "Submits to suppliers, by result: accepted or the failure's error class.",
            ["supplier", "carrier", "result"],
            registry=self.registry,
        )
        self.submit_latency = Histogram(
            "smsctl_dispatch_submit_latency_seconds",
            "Time a supplier took to answer one submit.",
            ["supplier"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.call_recipients = Histogram(
            "smsctl_dispatch_call_recipients",
            "Recipients per supplier call (several where the supplier takes batches).",
            ["supplier"],
            buckets=_CALL_SIZE_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "smsctl_dispatch_in_flight",
            "Messages being dispatched now.",
            registry=self.registry,
        )
        self.routing_version = Gauge(
            "smsctl_dispatch_routing_table_version",
            "Version of the routing table in force (0: the configured default routes).",
            registry=self.registry,
        )
        self.messages = Counter(
            "smsctl_dispatch_messages_total",
            "Bus messages handled, by what became of them (done, later, unroutable, ...).",
            ["disposition"],
            registry=self.registry,
        )
        self.throttles = Counter(
            "smsctl_dispatch_supplier_throttled_total",
            "Throttled answers from a supplier, each starting a back-off.",
            ["supplier"],
            registry=self.registry,
        )
        self.downs = Counter(
            "smsctl_dispatch_supplier_down_total",
            "Supplier-wide failures (balance, account, signature), each starting a cool-down.",
            ["supplier"],
            registry=self.registry,
        )
        self.http_requests = http_requests_counter("dispatch", self.registry)
        self.bus_pending = bus_pending_gauge("dispatch", self.registry)
        self.skips = Counter(
            "smsctl_dispatch_supplier_skipped_total",
            "Times a candidate supplier was passed over while backed off, by reason.",
            ["supplier", "reason"],
            registry=self.registry,
        )

        # Label lookups cost more than the increments on the per-message path: keep the children.
        self._submit_children: dict[tuple[str, str, str], Counter] = {}
        self._latency_children: dict[str, Histogram] = {}
        self._message_children: dict[str, Counter] = {}

    def observe_submit(self, supplier: str, carrier: str, result: str, latency_ms: float) -> None:
        key = (supplier, carrier, result)
        submits = self._submit_children.get(key)
        if submits is None:
            submits = self._submit_children[key] = self.submits.labels(*key)
        submits.inc()
        latency = self._latency_children.get(supplier)
        if latency is None:
            latency = self._latency_children[supplier] = self.submit_latency.labels(supplier)
        latency.observe(max(latency_ms, 0.0) / 1000)

    def message_handled(self, disposition: str) -> None:
        messages = self._message_children.get(disposition)
        if messages is None:
            messages = self._message_children[disposition] = self.messages.labels(disposition)
        messages.inc()
