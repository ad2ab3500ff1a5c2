"""Benchmark of a whole rule-engine round, as the runtime runs it, beside bench_windows' parts.

bench_windows times the window reads and the compiled conditions; a round in `smsctl run` also
moves the windows on (the seconds' buckets in, the expired ones out), steps every rule's alert
state machine, renders the values, labels and annotations of the alerts that hold, and hands the
transitions to the alert log and the alerting sink. Here the same 50 rules over 1,000 label sets
(bench_windows' five-window layout) are a rule file loaded as `smsctl` loads one, and a round is
`RuleEvaluator.evaluate_group` after a second of 100,000 events, timed with and without the
window advance before it. Alerts live in memory (the saving happens off the event loop in
`smsctl run`: its thread is not the round's).

Run from the repository root: `.venv/bin/python -m bench.bench_rule_round`.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
from collections.abc import Sequence
from typing import Any

from prometheus_client import CollectorRegistry

from bench.bench_windows import (
    LOG_RULES,
    RECEIPT_RULES,
    START,
    SUBMIT_RULES,
    batches,
    fill,
    five_windows,
    make_events,
)
from bench.table import Row, median_row
from controlplane.engine import WindowStore
from controlplane.engine.promql import PrometheusClient, RuleEvaluationMetrics
from controlplane.engine.rules.loader import load_rules_text
from controlplane.engine.rules.model import RuleSet
from controlplane.engine.runtime.alert_log import UnsavedAlertLog
from controlplane.engine.runtime.evaluator import RuleEvaluator
from controlplane.engine.runtime.sink import AlertNotice
from smsplatform.clock import ManualClock

MEASURED_SECONDS = 5
REPETITIONS = 3
# bench_windows.five_windows as rule-file windows: (source, by, window, filter) → its rules.
WINDOWS: list[tuple[str, str, str, str | None, list[str]]] = [
    ("receipts", "[supplier, carrier]", "2m", None, RECEIPT_RULES),
    ("receipts", "[supplier, carrier]", "1m", None, RECEIPT_RULES),
    ("receipts", "[supplier, carrier]", "2m", 'message_class != "marketing"', RECEIPT_RULES),
    ("submits", "[supplier, carrier]", "2m", None, SUBMIT_RULES),
    ("supplier_logs", "[supplier, code]", "2m", None, LOG_RULES),
]


def rule_file() -> str:
    """One group of 50 alert rules, each with labels and a templated summary, `for: 30s`."""
    lines = ["groups:", "  - name: bench", "    interval: 1s", "    rules:"]
    number = 0
    for source, by, window, event_filter, conditions in WINDOWS:
        for condition in conditions:
            lines += [
                f"      - alert: BenchRule{number:02d}",
                f"        source: {source}",
                f"        by: {by}",
                f"        window: {window}",
                f"        when: {_quoted(condition)}",
                "        for: 30s",
                "        labels: {severity: warning}",
                "        annotations:",
                '          summary: "{{ labels | tojson }}: {{ value }}"',
            ]
            if event_filter is not None:
                lines.append(f"        filter: {_quoted(event_filter)}")
            number += 1
    return "\n".join(lines) + "\n"


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class _Notices:
    """The alerting sink: takes the notices, as the stage's deliver does, and keeps a count."""

    def __init__(self) -> None:
        self.count = 0

    async def deliver(self, notices: Sequence[AlertNotice]) -> None:
        self.count += len(notices)


async def run_once(second: list[tuple[str, list[Any]]]) -> dict[str, float]:
    clock = ManualClock(START)
    store = WindowStore(clock)
    rule_set = RuleSet(load_rules_text(rule_file(), "bench.yaml"))
    [group] = rule_set.groups
    with PrometheusClient("http://127.0.0.1:9") as prometheus:
        evaluator = RuleEvaluator(
            rule_set,
            store,
            UnsavedAlertLog(),
            _Notices(),
            prometheus,
            RuleEvaluationMetrics(CollectorRegistry()),
            clock,
            external_url="",
        )
        fill(store, clock, second, five_windows)  # the rules registered the same five windows
        await evaluator.evaluate_group(group)
        full_ms, evaluate_ms = [], []
        gc.collect()
        for _ in range(MEASURED_SECONDS):
            for source, batch in second:
                store.add_batch(source, batch)
                clock.advance(1.0 / len(second))
            started = time.perf_counter()
            store.advance()
            advanced = time.perf_counter()
            await evaluator.evaluate_group(group)
            done = time.perf_counter()
            full_ms.append((done - started) * 1000)
            evaluate_ms.append((done - advanced) * 1000)
        alerts = sum(len(alerts) for alerts in evaluator.alerts_by_rule().values())
    return {
        "round_with_advance_ms": statistics.median(full_ms),
        "round_ms": statistics.median(evaluate_ms),
        "alerts": float(alerts),
        "label_sets": float(sum(len(store.aggregates(p.spec)) for p in five_windows(store))),
    }


def measure(repetitions: int = REPETITIONS) -> list[dict[str, float]]:
    second = batches(make_events())
    return [asyncio.run(run_once(second)) for _ in range(repetitions)]


def table_rows() -> list[Row]:
    """This benchmark as rows of the `make bench` table."""
    results = measure()
    setup = "50 rules × 1,000 label sets on 5 windows, RuleEvaluator"
    return [
        median_row(
            "rule-engine round (state machine, templates)",
            setup,
            [result["round_ms"] for result in results],
            "ms",
            "≤ 50",
        ),
        median_row(
            "rule-engine round + window advance",
            setup + ", 100,000 events/s",
            [result["round_with_advance_ms"] for result in results],
            "ms",
        ),
    ]


if __name__ == "__main__":
    for result in measure():
        print(" ".join(f"{key}={value:.1f}" for key, value in result.items()), flush=True)
