"""The receipt gateway's Prometheus metrics, on a registry per gateway instance."""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from controlplane.contracts import Receipt


class GatewayMetrics:
    """Every metric the receipt gateway exports on /metrics."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.pushes = Counter(
            "sendtier_receipts_pushes_total",
            "Callback pushes answered, by supplier and outcome "
            "(ok, rejected_signature, rejected_body, retry_later, unknown_supplier).",
            ["supplier", "outcome"],
            registry=self.registry,
        )
        self.push_seconds = Histogram(
            "sendtier_receipts_push_seconds",
            "Time from a push's arrival to its answer.",
            ["supplier"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.7, 1, 2.5),
            registry=self.registry,
        )
        self.reports = Counter(
            "sendtier_receipts_reports_total",
            "Supplier reports, by supplier and fate "
            "(published, published_late, not_final, held, orphaned).",
            ["supplier", "fate"],
            registry=self.registry,
        )
        # Every correlated receipt, sampled out or not: what a delivery-rate rule in Prometheus
        # reads (the usual way of watching suppliers, which the cut-over bench compares with).
        self.receipts = Counter(
            "sendtier_receipts_total",
            "Correlated receipts, by supplier, carrier and status.",
            ["supplier", "carrier", "status"],
            registry=self.registry,
        )
        self.unsampled = Counter(
            "sendtier_receipts_unsampled_total",
            "Receipts left out of the degradation sample (level `sample`): counted, not published.",
            ["supplier", "message_class"],
            registry=self.registry,
        )
        self.degradation_version = Gauge(
            "sendtier_receipts_degradation_version",
            "Version of the degradation policy the gateway applies (0: none received).",
            registry=self.registry,
        )
        self.correlations = Counter(
            "sendtier_receipts_correlations_total",
            "Report lookups, by where the submit was found (index, database) or miss.",
            ["source"],
            registry=self.registry,
        )
        self.orphans = Counter(
            "sendtier_receipts_orphans_total",
            "Reports stored as orphans (no submit of ours found), by supplier and reason.",
            ["supplier", "reason"],
            registry=self.registry,
        )
        self.publish_failures = Counter(
            "sendtier_receipts_publish_failures_total",
            "Publishes to sms.receipts that failed (the push was answered retry-later).",
            registry=self.registry,
        )
        self.retry_buffer = Gauge(
            "sendtier_receipts_retry_buffer",
            "Reports waiting for their submit to become known.",
            registry=self.registry,
        )
        self.index_size = Gauge(
            "sendtier_receipts_index_entries",
            "Entries in the correlation index (two per accepted submit with a supplier id).",
            registry=self.registry,
        )

    def count_receipts(self, supplier: str, receipts: Sequence[Receipt]) -> None:
        """Count a pushed batch by (carrier, status): one label lookup per pair, not per receipt."""
        counts: dict[tuple[str, str], int] = {}
        for receipt in receipts:
            key = (receipt.carrier, receipt.status)
            counts[key] = counts.get(key, 0) + 1
        for (carrier, status), count in counts.items():
            self.receipts.labels(supplier, carrier, status).inc(count)
