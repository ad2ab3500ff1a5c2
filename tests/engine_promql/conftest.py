"""Fixtures of this folder: the real Prometheus harness (see prometheus_harness.py)."""

from prometheus_harness import (
    closed_port_url,
    metrics_exporter,
    prometheus,
    start_prometheus,
)

__all__ = ["closed_port_url", "metrics_exporter", "prometheus", "start_prometheus"]
