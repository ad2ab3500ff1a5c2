"""Metrics every send-tier service exports alike: HTTP requests by route and code, bus backlog."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge

from smsplatform.bus import Bus

log = logging.getLogger(__name__)


def http_requests_counter(service: str, registry: CollectorRegistry) -> Counter:
    """`sendtier_<service>_http_requests_total`: what RequestMetricsMiddleware counts into."""
    return Counter(
        f"sendtier_{service}_http_requests_total",
        "HTTP requests served, by route template and status code.",
        ["route", "code"],
        registry=registry,
    )


def bus_pending_gauge(service: str, registry: CollectorRegistry) -> Gauge:
    """`sendtier_<service>_bus_pending{subject}`: the backlog of the service's durables."""
    return Gauge(
        f"sendtier_{service}_bus_pending",
        "Messages on a subject not yet acknowledged by this service's durable consumer.",
        ["subject"],
        registry=registry,
    )


async def refresh_bus_pending(bus: Bus, gauge: Gauge, durables: Mapping[str, str]) -> None:
    """Set `gauge` for each subject → durable from what the bus says the durable has not acked.

    Read at scrape time. A subject whose durable is not there (the service has not subscribed
    yet) or that the bus cannot answer for keeps its last value: a scrape must not fail on it.
    """
    for subject, durable in durables.items():
        try:
            pending = await bus.pending(subject, durable)
        except LookupError:
            continue
        except Exception as exc:
            log.warning(
                "bus.pending unavailable subject=%s durable=%s error=%r", subject, durable, exc
            )
            continue
        gauge.labels(subject).set(pending)
