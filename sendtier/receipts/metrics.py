"""The receipt gateway's Prometheus metrics, on a registry per gateway instance."""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from sendtier.receipts.correlation import Correlation
from sendtier.service_metrics import bus_pending_gauge, http_requests_counter
from smsplatform.contracts import Receipt

# Most SMS receipts come within seconds; a queued supplier or a switched-off phone takes minutes.
# Past an hour the exact delay no longer matters: those land in +Inf.
RECEIPT_DELAY_BUCKETS = (0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600)


class GatewayMetrics:
    """Every metric the receipt gateway exports on /metrics."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.pushes = Counter(
            "sendtier_receipts_pushes_total",
            "Callback pushes answered, by supplier and outcome (ok, rejected_source, "
            "rejected_signature, rejected_body, retry_later, unknown_supplier).",
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
        self.receipt_delay = Histogram(
            "sendtier_receipt_delay_seconds",
            "Time from the submit to the supplier's report time, by supplier and carrier.",
            ["supplier", "carrier"],
            buckets=RECEIPT_DELAY_BUCKETS,
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
        self.replays = Counter(
            "sendtier_receipt_replays_total",
            "Reports taken before (or twice in one push): answered, not published again.",
            ["supplier"],
            registry=self.registry,
        )
        self.held = Gauge(
            "sendtier_receipts_held",
            "Reports this gateway holds in storage until their submit is known.",
            registry=self.registry,
        )
        self.index_size = Gauge(
            "sendtier_receipts_index_entries",
            "Entries in the correlation index (two per accepted submit with a supplier id).",
            registry=self.registry,
        )
        self.http_requests = http_requests_counter("receipts", self.registry)
        self.bus_pending = bus_pending_gauge("receipts", self.registry)

    def count_lookups(self, correlation: Correlation) -> None:
        """Count where a correlation pass found each report's submit, or that it missed."""
        for source, count in (
            ("index", correlation.from_index),
            ("database", correlation.from_database),
            ("miss", len(correlation.unmatched)),
        ):
            if count:
                self.correlations.labels(source).inc(count)

    def count_receipts(self, supplier: str, receipts: Sequence[Receipt]) -> None:
        """Count a published batch by (carrier, status) and observe each receipt's delay.

        One label lookup per label set, not per receipt.
        """
        counts: dict[tuple[str, str], int] = {}
        delays: dict[str, Histogram] = {}
        for receipt in receipts:
            key = (receipt.carrier, receipt.status)
            counts[key] = counts.get(key, 0) + 1
            delay = delays.get(receipt.carrier)
            if delay is None:
                delay = delays[receipt.carrier] = self.receipt_delay.labels(
                    supplier, receipt.carrier
                )
            # Report times to the minute (CMPP) or a supplier's clock can put a report before
            # the submit: that is no delay, not a negative one.
            seconds = (receipt.reported_at - receipt.submitted_at).total_seconds()
            delay.observe(max(seconds, 0.0))
        for (carrier, status), count in counts.items():
            self.receipts.labels(supplier, carrier, status).inc(count)
