"""Reads a sample off a /metrics page, parsed as Prometheus parses it."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def sample(page: str, name: str, **labels: str) -> float | None:
    """The value of the sample `name` with exactly `labels`, or None when there is none."""
    for family in text_string_to_metric_families(page):
        for found in family.samples:
            if found.name == name and found.labels == labels:
                return float(found.value)
    return None
