"""Latency quantiles come from mergeable DDSketch bins and stay within the sketch's accuracy."""

from __future__ import annotations

import math
import random

import pytest
from ddsketch import DDSketch
from window_events import clock_at_t0, receipt, submit

from controlplane.engine import WindowSpec, WindowStore
from controlplane.engine.sketch import SketchMapping, WindowSketch

RECEIPTS = WindowSpec("receipts", ("supplier",), window_s=60)
QUANTILES = {"p50": 0.5, "p95": 0.95, "p99": 0.99}


def exact_quantile(values: list[float], quantile: float) -> float:
    """The value DDSketch approximates: the element at rank floor(q·(n−1)) of the sorted values."""
    ordered = sorted(values)
    return ordered[math.floor(quantile * (len(ordered) - 1))]


def test_receipt_latency_quantiles_are_within_one_percent_of_the_exact_values() -> None:
    rng = random.Random(20260301)
    latencies = [rng.lognormvariate(1.0, 0.8) for _ in range(5000)]
    store = WindowStore(clock_at_t0())
    store.register(RECEIPTS)
    store.add_batch("receipts", [receipt(latency_s=latency) for latency in latencies])
    window = store.aggregates(RECEIPTS)[("aliyun",)]
    for name, quantile in QUANTILES.items():
        exact = exact_quantile(latencies, quantile)
        assert window[name] == pytest.approx(exact, rel=0.01), name


def test_quantiles_are_the_same_as_ddsketch_reports_for_the_same_latencies() -> None:
    rng = random.Random(7)
    latencies = [rng.expovariate(0.5) for _ in range(2000)]
    reference = DDSketch(relative_accuracy=0.02)
    for latency in latencies:
        reference.add(latency if latency >= 1e-3 else 0.0)
    store = WindowStore(clock_at_t0(), relative_accuracy=0.02)
    store.register(RECEIPTS)
    store.add_batch("receipts", [receipt(latency_s=latency) for latency in latencies])
    window = store.aggregates(RECEIPTS)[("aliyun",)]
    for name, quantile in QUANTILES.items():
        assert window[name] == pytest.approx(reference.get_quantile_value(quantile), rel=1e-9)


def test_slow_receipts_stop_counting_in_quantiles_when_they_leave_the_window() -> None:
    clock = clock_at_t0()
    store = WindowStore(clock)
    store.register(RECEIPTS)
    store.add_batch("receipts", [receipt(latency_s=120.0) for _ in range(50)])
    clock.advance(30)
    store.add_batch("receipts", [receipt(latency_s=1.5) for _ in range(50)])
    clock.advance(1)
    assert store.aggregates(RECEIPTS)[("aliyun",)]["p99"] == pytest.approx(120, rel=0.01)
    clock.advance(30)
    after = store.aggregates(RECEIPTS)[("aliyun",)]
    assert (after["p50"], after["p99"]) == (pytest.approx(1.5, rel=0.01),) * 2


def test_submit_latency_quantiles_are_milliseconds() -> None:
    spec = WindowSpec("submits", (), window_s=60)
    store = WindowStore(clock_at_t0())
    store.register(spec)
    store.add_batch("submits", [submit(latency_ms=float(ms)) for ms in range(1, 1001)])
    window = store.aggregates(spec)[()]
    assert window["p50"] == pytest.approx(500, rel=0.01)
    assert window["p99"] == pytest.approx(990, rel=0.01)


def test_receipts_reported_before_they_were_submitted_count_as_zero_latency() -> None:
    store = WindowStore(clock_at_t0())
    store.register(RECEIPTS)
    store.add_batch("receipts", [receipt(latency_s=-3.0)] * 60 + [receipt(latency_s=4.0)] * 40)
    window = store.aggregates(RECEIPTS)[("aliyun",)]
    assert (window["p50"], window["p95"]) == (0.0, pytest.approx(4.0, rel=0.01))


def test_a_sketch_minus_a_bucket_reads_as_if_the_bucket_had_never_been_added() -> None:
    mapping = SketchMapping(0.01)
    rng = random.Random(3)

    def bins_of(values: list[float]) -> dict[int, int]:
        bins: dict[int, int] = {}
        for value in values:
            bins[mapping.key(value)] = bins.get(mapping.key(value), 0) + 1
        return bins

    early = [rng.uniform(50, 500) for _ in range(300)]
    later = [rng.uniform(0.01, 2) for _ in range(300)]
    window = WindowSketch()
    window.add(bins_of(early))
    window.add(bins_of(later))
    window.add(bins_of(early), sign=-1)
    only_later = WindowSketch()
    only_later.add(bins_of(later))
    qs = (0.0, 0.5, 0.95, 0.99, 1.0)
    assert [window.quantile(mapping, q) for q in qs] == [
        only_later.quantile(mapping, q) for q in qs
    ]
    assert (window.count, sum(window.blocks)) == (300, 300)
