"""Benchmark of sliding windows: ingest + rule evaluation, and evaluation rounds alone.

Run from the repository root: `.venv/bin/python -m bench.bench_windows`. 1,000 label sets (50
suppliers × 20 carriers; for supplier logs 50 suppliers × 20 codes), uneven like production
traffic, and 50 CEL rules, in two layouts:

- five windows, ten rules each: receipts over 2 min and 1 min (one shared ring), receipts without
  marketing over 2 min (a filtered stream), submits and supplier logs over 2 min: 5,000 (window,
  label set) activations per round. Events are 60% receipts, 30% submits, 10% supplier logs.
- one stream, two windows: receipts by supplier and carrier over 1 min and 2 min, 25 rules each:
  2,000 activations per round.

Windows are first filled to steady state (every second of the 2-minute rings holds a full second
of buckets, merged in as partials), so each measured second also pays for the buckets that leave.
A measured second is: 100,000 events ingested in bus-sized batches of 1,000; the windows advanced
(that second's buckets added to every window, the expired second subtracted); every rule
evaluated on every label set. All on one core (one Python thread).
"""

from __future__ import annotations

import gc
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from typing import Any

import msgspec

from bench.table import Row, median_row
from controlplane.engine import CelExpression, WindowProgram, WindowSpec, WindowStore
from smsplatform.clock import ManualClock
from smsplatform.contracts import Receipt, SubmitResult, SupplierLog

EVENTS_PER_SECOND = 100_000
BATCH = 1_000
MEASURED_SECONDS = 3
REPETITIONS = 3
SUPPLIERS = [f"supplier-{index:02d}" for index in range(50)]
CARRIERS = [f"carrier-{index:02d}" for index in range(20)]
CODES = [f"E{index:03d}" for index in range(20)]
SUBMIT_ERRORS = ["isp.SYSTEM_ERROR", "isv.BUSINESS_LIMIT_CONTROL", "isv.MOBILE_NUMBER_ILLEGAL"]
START = datetime(2026, 1, 1, tzinfo=UTC)

RECEIPT_RULES = [
    "delivery_rate < 0.90 && total >= 200",
    "failure_rate > 0.20 && total >= 100",
    "p95 > 30.0",
    "p99 > 60.0 && total >= 50",
    'error_share["E001"] > 0.05',
    'error_share["E002"] > 0.10 && total > 100',
    "rate_per_s < 0.01",
    "expired > total / 20",
    "no_data_for > 300.0",
    "unknown > total / 10",
]
SUBMIT_RULES = [
    "accept_rate < 0.95 && total >= 100",
    "reject_rate > 0.10",
    "p95 > 2000.0",
    "p99 > 5000.0 && total >= 20",
    'error_share["isv.BUSINESS_LIMIT_CONTROL"] > 0.01',
    'error_share["isp.SYSTEM_ERROR"] > 0.05 && total >= 50',
    "rejected > total / 10",
    "p50 > 800.0",
    "rate_per_s > 1000.0",
    "no_data_for > 120.0",
]
LOG_RULES = [
    'by_level["ERROR"] > 50',
    "error_count > 60",
    'by_level["CRITICAL"] > 5',
    "warning_count > 100",
    "rate_per_s > 100.0",
    "total > 100000",
    "no_data_for > 600.0",
    'by_level["WARNING"] > by_level["INFO"]',
    "error_count > total / 2",
    'by_code["E001"] > 5000',
]


# The one-stream layout's rules: the receipt rules above, plus severities and codes.
WIDE_RECEIPT_RULES = [
    *RECEIPT_RULES,
    "delivery_rate < 0.70 && total >= 200",
    "delivery_rate < 0.50 && total >= 50",
    "failure_rate > 0.40",
    "p95 > 60.0 && total >= 100",
    "p50 > 20.0",
    'error_share["E003"] > 0.05',
    'error_share["E004"] > 0.05',
    'error_share["E005"] > 0.05 && total >= 100',
    "rejected > total / 10",
    "failed > total / 5 && delivery_rate < 0.95",
    "rate_per_s > 5000.0",
    "rate_per_s < 1.0 && no_data_for < 60.0",
    "unknown > total / 5",
    "delivered < total / 2",
    "expired > total / 5",
]


def five_windows(store: WindowStore) -> list[WindowProgram]:
    """Five windows of four streams, ten rules each, registered and compiled as a loader would."""
    pair = ("supplier", "carrier")
    no_marketing = 'message_class != "marketing"'
    return compile_all(
        store,
        [
            (WindowSpec("receipts", pair, 120), RECEIPT_RULES),
            (WindowSpec("receipts", pair, 60), RECEIPT_RULES),
            (WindowSpec("receipts", pair, 120, filter=no_marketing), RECEIPT_RULES),
            (WindowSpec("submits", pair, 120), SUBMIT_RULES),
            (WindowSpec("supplier_logs", ("supplier", "code"), 120), LOG_RULES),
        ],
    )


def one_stream(store: WindowStore) -> list[WindowProgram]:
    """Two windows of the receipts stream by supplier and carrier, 25 rules each."""
    pair = ("supplier", "carrier")
    return compile_all(
        store,
        [
            (WindowSpec("receipts", pair, 120), WIDE_RECEIPT_RULES),
            (WindowSpec("receipts", pair, 60), WIDE_RECEIPT_RULES),
        ],
    )


def compile_all(
    store: WindowStore, specs_and_rules: list[tuple[WindowSpec, list[str]]]
) -> list[WindowProgram]:
    programs = []
    for spec, texts in specs_and_rules:
        store.register(spec)
        programs.append(store.compile(spec, [CelExpression(text) for text in texts]))
    return programs


def make_events(seed: int = 7) -> dict[str, list[Any]]:
    """One second of traffic, uneven like production: label sets differ in volume (a few
    suppliers and carriers carry most), in health (most deliver 96–99.5%, one in twenty is
    degraded: 60–90%, slow) and in latency (log-normal, median 1–4 s, degraded 10–30 s), so
    counts, rates and quantiles differ from label set to label set and a few rules fire."""
    rng = random.Random(seed)
    pairs = [(supplier, carrier) for supplier in SUPPLIERS for carrier in CARRIERS]
    rng.shuffle(pairs)
    weights = list(accumulate(1 / (1 + rank / 100) for rank in range(len(pairs))))
    degraded = set(pairs[:: len(pairs) // 50])
    health = {
        pair: rng.uniform(0.60, 0.90) if pair in degraded else rng.uniform(0.96, 0.995)
        for pair in pairs
    }
    median_s = {
        pair: rng.uniform(10.0, 30.0) if pair in degraded else rng.uniform(1.0, 4.0)
        for pair in pairs
    }
    classes = ["otp", "notification", "marketing"]
    failures = ["FAILED", "FAILED", "EXPIRED", "REJECTED", "UNKNOWN"]
    receipts = []
    for index, (supplier, carrier) in enumerate(
        rng.choices(pairs, cum_weights=weights, k=EVENTS_PER_SECOND * 6 // 10)
    ):
        delivered = rng.random() < health[(supplier, carrier)]
        status = "DELIVERED" if delivered else rng.choice(failures)
        submitted = START + timedelta(milliseconds=rng.randrange(1000))
        latency = median_s[(supplier, carrier)] * rng.lognormvariate(0, 0.6)
        receipts.append(
            Receipt(
                message_id=f"m{index}",
                supplier=supplier,
                carrier=carrier,
                message_class=rng.choice(classes),  # type: ignore[arg-type]
                status=status,  # type: ignore[arg-type]
                submitted_at=submitted,
                reported_at=submitted + timedelta(seconds=latency),
                error_code=None if delivered else rng.choice(CODES),
            )
        )
    submits = []
    for index, (supplier, carrier) in enumerate(
        rng.choices(pairs, cum_weights=weights, k=EVENTS_PER_SECOND * 3 // 10)
    ):
        accepted = rng.random() < 0.5 + health[(supplier, carrier)] / 2
        submits.append(
            SubmitResult(
                message_id=f"s{index}",
                supplier=supplier,
                carrier=carrier,
                message_class=rng.choice(classes),  # type: ignore[arg-type]
                accepted=accepted,
                latency_ms=80.0 * rng.lognormvariate(0, 0.8),
                at=START,
                error_code=None if accepted else rng.choice(SUBMIT_ERRORS),
            )
        )
    levels = ["INFO"] * 970 + ["WARNING"] * 25 + ["ERROR"] * 4 + ["CRITICAL"]
    logs = [
        SupplierLog(
            supplier=SUPPLIERS[index % 50],
            level=rng.choice(levels),  # type: ignore[arg-type]
            code=CODES[(index // 50) % 20],
            text="balance low",
            at=START,
        )
        for index in range(EVENTS_PER_SECOND // 10)
    ]
    return {"receipts": receipts, "submits": submits, "supplier_logs": logs}


def batches(events: dict[str, list[Any]]) -> list[tuple[str, list[Any]]]:
    """The second's events as bus batches of one source each, sources interleaved."""
    per_source = {
        source: [items[first : first + BATCH] for first in range(0, len(items), BATCH)]
        for source, items in events.items()
    }
    interleaved = []
    while any(per_source.values()):
        for source, pending in per_source.items():
            if pending:
                interleaved.append((source, pending.pop(0)))
    return interleaved


Layout = Callable[[WindowStore], list[WindowProgram]]


def fill(
    store: WindowStore, clock: ManualClock, second: list[tuple[str, list[Any]]], layout: Layout
) -> None:
    """Fill the rings to steady state: one full second of buckets for each second of the ring,
    ingested once by a replica and merged in as partials (much faster than re-ingesting)."""
    replica = WindowStore(
        ManualClock(clock.now()), export_partials=True, relative_accuracy=store.relative_accuracy
    )
    layout(replica)
    for source, batch in second:
        replica.add_batch(source, batch)
    partials = replica.take_partials()
    for _ in range(120):
        store.merge_partials(partials, clock.now())
        clock.advance(1)
        partials = [
            msgspec.structs.replace(partial, second=int(clock.now().timestamp()))
            for partial in partials
        ]


def evaluate(store: WindowStore, programs: list[WindowProgram]) -> int:
    """One evaluation round: every rule on every label set; returns how many rules held."""
    held = 0
    for program in programs:
        for results in store.evaluate(program).values():
            held += results.count(True)
    return held


def run_once(second: list[tuple[str, list[Any]]], layout: Layout) -> dict[str, float]:
    """Fill, then MEASURED_SECONDS seconds of: ingest, window advance, evaluation round."""
    clock = ManualClock(START)
    store = WindowStore(clock)
    programs = layout(store)
    fill(store, clock, second, layout)
    evaluate(store, programs)
    ingest_s = 0.0
    advance_ms = []
    rounds_ms = []
    rounds_cpu_ms = []  # CPU time of the round: steadier than wall time on a shared machine
    events = 0
    gc.collect()
    for _ in range(MEASURED_SECONDS):
        step = 1.0 / len(second)
        started = time.perf_counter()
        for source, batch in second:
            store.add_batch(source, batch)
            clock.advance(step)
        ingest_s += time.perf_counter() - started
        events += sum(len(batch) for _, batch in second)
        started = time.perf_counter()
        store.advance()
        advance_ms.append((time.perf_counter() - started) * 1000)
        started, started_cpu = time.perf_counter(), time.process_time()
        evaluate(store, programs)
        rounds_ms.append((time.perf_counter() - started) * 1000)
        rounds_cpu_ms.append((time.process_time() - started_cpu) * 1000)
    total_s = ingest_s + (sum(advance_ms) + sum(rounds_ms)) / 1000
    return {
        "events_per_s": events / total_s,
        "ingest_only_events_per_s": events / ingest_s,
        "advance_ms": statistics.median(advance_ms),
        "round_ms": statistics.median(rounds_ms),
        "round_cpu_ms": statistics.median(rounds_cpu_ms),
        "activations": sum(len(store.aggregates(program.spec)) for program in programs),
        "rules": sum(len(program.expressions) for program in programs),
    }


def measure(layout: Layout, repetitions: int = REPETITIONS) -> list[dict[str, float]]:
    events = make_events()
    if layout is one_stream:  # that layout reads receipts only
        events = {"receipts": events["receipts"]}
    second = batches(events)
    return [run_once(second, layout) for _ in range(repetitions)]


def table_rows() -> list[Row]:
    """This benchmark as rows of the `make bench` table."""
    five = measure(five_windows)
    one = measure(one_stream)
    setup_five = "1,000 label sets, 50 rules on 5 windows"
    setup_one = "1,000 label sets, 50 rules on 1 stream (2 windows)"
    return [
        median_row(
            "window ingest + advance + evaluation",
            setup_five,
            [result["events_per_s"] for result in five],
            "events/s",
            "≥ 100,000",
        ),
        median_row(
            "window advance per second",
            setup_five + " at 100,000 events/s",
            [result["advance_ms"] for result in five],
            "ms",
        ),
        median_row(
            "rule evaluation round",
            setup_five + " (5,000 activations)",
            [result["round_ms"] for result in five],
            "ms",
            "≤ 50",
        ),
        median_row(
            "rule evaluation round",
            setup_one + " (2,000 activations)",
            [result["round_ms"] for result in one],
            "ms",
            "≤ 50",
        ),
        median_row(
            "rule evaluation round, CPU time",
            setup_five,
            [result["round_cpu_ms"] for result in five],
            "ms",
            "≤ 50",
        ),
        median_row(
            "rule evaluation round, CPU time",
            setup_one,
            [result["round_cpu_ms"] for result in one],
            "ms",
            "≤ 50",
        ),
    ]


def main(repetitions: int) -> None:
    for name, layout in (("five_windows", five_windows), ("one_stream", one_stream)):
        for result in measure(layout, repetitions):
            fields = " ".join(f"{key}={value:.1f}" for key, value in result.items())
            print(f"bench.windows layout={name} {fields}", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else REPETITIONS)
