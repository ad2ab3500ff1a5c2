"""The persistence service's Prometheus metrics, on a registry per service instance."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from sendtier.service_metrics import bus_pending_gauge, http_requests_counter

BATCH_SIZE_BUCKETS = (1, 10, 50, 100, 250, 500, 1000, 2000, 5000, 10000, 20000)
BATCH_SECONDS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)


class PersistServiceMetrics:
    """Every metric sendtier-persist exports on /metrics (also what EventPersister reports)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.events_persisted = Counter(
            "sendtier_persist_events_total",
            "Events taken off the bus and written (redelivered duplicates count, stored once).",
            ["kind"],
            registry=self.registry,
        )
        self.persist_batch_seconds = Histogram(
            "sendtier_persist_batch_seconds",
            "Time to write one batch of events to storage.",
            ["kind"],
            buckets=BATCH_SECONDS_BUCKETS,
            registry=self.registry,
        )
        self.persist_failures = Counter(
            "sendtier_persist_failures_total",
            "Batches whose write failed and were left on the bus for redelivery.",
            ["kind"],
            registry=self.registry,
        )
        self.bus_pending = bus_pending_gauge("persist", self.registry)
        self.http_requests = http_requests_counter("persist", self.registry)
        self.batch_events = Histogram(
            "sendtier_persist_batch_events",
            "Events in one write batch.",
            ["kind"],
            buckets=BATCH_SIZE_BUCKETS,
            registry=self.registry,
        )
        self.rows_written = Counter(
            "sendtier_persist_rows_total",
            "Rows offered to storage, by table (duplicates are skipped by the database).",
            ["table"],
            registry=self.registry,
        )
        self.undecodable = Counter(
            "sendtier_persist_undecodable_total",
            "Bus messages that fit no contract: logged, acked and skipped.",
            ["kind"],
            registry=self.registry,
        )
        self.receipts_shed = Counter(
            "sendtier_persist_receipts_shed_total",
            "Receipts not stored because of the degradation policy, by message class.",
            ["message_class", "level"],
            registry=self.registry,
        )
        self.status_updates = Counter(
            "sendtier_persist_status_updates_total",
            "messages.last_status changes made from receipts.",
            registry=self.registry,
        )
        self.status_conflicts = Counter(
            "sendtier_persist_status_conflicts_total",
            "Final statuses refused because the message already had another final status.",
            registry=self.registry,
        )
        self.degradation_version = Gauge(
            "sendtier_persist_degradation_version",
            "Version of the degradation policy in force (0: none received).",
            registry=self.registry,
        )
        self.degradation_level = Gauge(
            "sendtier_persist_degradation_level",
            "1 for the degradation level in force now, 0 for the others.",
            ["level"],
            registry=self.registry,
        )
