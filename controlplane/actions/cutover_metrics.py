"""Exports cut-over on /metrics: the table in force, route changes, fail-statics, health."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from controlplane.actions.cutover_service import CutoverService
from smsplatform.clock import Clock


class CutoverCollector(Collector):
    def __init__(self, service: CutoverService, clock: Clock) -> None:
        self._service = service
        self._clock = clock

    def collect(self) -> Iterator[Metric]:
        service = self._service
        table = service.table
        version = GaugeMetricFamily(
            "smsctl_routing_version", "Version of the routing table in force (0: none owned)."
        )
        version.add_metric([], table.version if table is not None else 0)
        yield version
        weights = GaugeMetricFamily(
            "smsctl_route_supplier_weight",
            "Each supplier's weight on each route, by its state (probing: its canary share).",
            labels=["carrier", "message_class", "supplier", "state"],
        )
        for route in table.routes if table is not None else []:
            for entry in route.suppliers:
                labels = [route.carrier, route.message_class, entry.supplier, entry.state]
                weights.add_metric(labels, entry.weight)
        yield weights
        changes = CounterMetricFamily(
            "smsctl_route_changes",
            "Route changes made by automation, by action (cutover, canary, promote, ...).",
            labels=["action"],
        )
        for action, count in sorted(service.changes_by_action.items()):
            changes.add_metric([action], count)
        yield changes
        held = GaugeMetricFamily(
            "smsctl_route_fail_static",
            "Suppliers that should leave a route but may not (safety rules): routes left as is.",
        )
        held.add_metric([], service.fail_static_now)
        yield held
        rounds = CounterMetricFamily(
            "smsctl_cutover_rounds", "Cut-over decision rounds (one per event batch, and ticks)."
        )
        rounds.add_metric([], service.rounds)
        yield rounds
        healthy = GaugeMetricFamily(
            "smsctl_supplier_healthy",
            "1 when the health model finds a supplier fit for a carrier, else 0.",
            labels=["supplier", "carrier"],
        )
        for row in service.health.snapshot(self._clock.now()):
            healthy.add_metric(
                [str(row["supplier"]), str(row["carrier"])], float(bool(row["healthy"]))
            )
        yield healthy
