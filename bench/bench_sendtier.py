"""End-to-end benchmark of the send tier: API → dispatch → simulator → receipt → persisted.

One process per service, started with the CLI (`python -m sendtier api|dispatch|...`), on NATS
JetStream and a fresh MariaDB database; the four demo supplier simulators run in a process of
their own. The load generator (testbench.load) runs here, open loop, at the target rate with
batches. Each run measures the API's accepted msg/s and p99 latency while the load lasts, and
the rate at which the messages then end up stored with their receipt; a last run at a rate the
machine sustains shows the API's latency when it is not overloaded. CPU time per process
(NATS and MariaDB included) is read from /proc, so each run's line also says where the time
goes, and how many recipients dispatch put in each supplier call (its batching). Everything
shares this machine, the simulators too.

Run from the repository root: `.venv/bin/python -m bench.bench_sendtier [rate] [seconds]`.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from dataclasses import dataclass

import pymysql

from bench.sendtier_processes import (
    MARIADB,
    NATS_URL,
    SendTierProcesses,
    cpu_seconds,
    mariadb_database,
    send_tier_processes,
    supplier_calls,
)
from bench.table import Row, median_row
from smsplatform.bus import JetStreamBus
from testbench.load import run_load

TARGET_RATE = 5_000.0  # messages/s, the target
TARGET_P99_MS = 50.0
SECONDS_PER_RUN = 2.0
RUNS = 3
# A rate this machine sustains, to show the API's latency when it is not overloaded.
LIGHT_RATE = 150.0
LIGHT_SECONDS = 5.0
BATCH = 100  # recipients per notification/marketing request (OTP goes one per request)
STALL_S = 15.0  # no message settled for this long: the rest never will


@dataclass(frozen=True)
class RunResult:
    offered: int
    accepted: int
    accepted_per_s: float
    p99_ms: float
    settled_per_s: float  # stored with their receipt, from the start of the load to the last
    unsettled: int  # accepted, never stored with a receipt (their submit timed out)
    recipients_per_call: float  # dispatch's supplier calls: batches where the dialect has them
    cpu_ms_per_message: dict[str, float]  # process → CPU ms per accepted message


class _SettledCounter:
    """Counts messages stored with a receipt, over one connection kept for the whole run."""

    def __init__(self, database: str) -> None:
        self._connection = pymysql.connect(**MARIADB, database=database, autocommit=True)

    def __call__(self) -> int:
        with self._connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM messages WHERE last_status IS NOT NULL")
            row = cursor.fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        self._connection.close()


def measure_run(
    tier: SendTierProcesses, settled: _SettledCounter, rate: float, seconds: float, seed: int
) -> RunResult:
    """Offer `rate` msg/s for `seconds`, then wait until every accepted message is settled (or
    until none has settled for STALL_S: a submit that timed out is never resent, so its message
    never gets a receipt, and that is counted as unsettled)."""
    pids = tier.pids()
    settled_before = settled()
    recipients_before, calls_before = supplier_calls(tier)
    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    load_cpu_before = cpu_seconds(os.getpid())
    started = time.monotonic()
    report = asyncio.run(
        run_load(
            tier.api_url,
            tier.platform.tenant_tokens["demo"],
            rate,
            seconds,
            batch_size=BATCH,
            max_in_flight=4096,
            connections=16,
            seed=seed,
        )
    )
    load_cpu = cpu_seconds(os.getpid()) - load_cpu_before
    target = settled_before + report.accepted
    count = settled()
    last_progress = time.monotonic()
    while count < target and time.monotonic() - last_progress < STALL_S:
        time.sleep(0.25)
        now_count = settled()
        if now_count > count:
            count, last_progress = now_count, time.monotonic()
    elapsed = last_progress - started
    cpu = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
    cpu["load generator"] = load_cpu
    recipients, calls = supplier_calls(tier)
    accepted = max(report.accepted, 1)
    return RunResult(
        offered=report.sent + report.skipped,
        accepted=report.accepted,
        accepted_per_s=report.accepted_per_s,
        p99_ms=report.latency_p99_ms,
        settled_per_s=(count - settled_before) / elapsed,
        unsettled=target - count,
        recipients_per_call=(recipients - recipients_before) / max(calls - calls_before, 1.0),
        cpu_ms_per_message={name: seconds * 1000 / accepted for name, seconds in cpu.items()},
    )


def run(
    rate: float = TARGET_RATE, seconds: float = SECONDS_PER_RUN, runs: int = RUNS
) -> tuple[list[RunResult], RunResult]:
    """`runs` runs at `rate`, then one at LIGHT_RATE (what the API answers when not overloaded)."""
    stream = f"bench{uuid.uuid4().hex[:10]}"
    results = []
    with mariadb_database() as database:
        try:
            with send_tier_processes(database, stream) as tier:
                settled = _SettledCounter(database)
                try:
                    # A warm-up: connections, caches and pools, lazy imports.
                    measure_run(tier, settled, min(rate, 500.0), 1.0, seed=0)
                    for index in range(runs):
                        result = measure_run(tier, settled, rate, seconds, seed=index + 1)
                        results.append(result)
                        print(f"bench.sendtier run={index + 1} {_describe(result)}", flush=True)
                    light = measure_run(tier, settled, LIGHT_RATE, LIGHT_SECONDS, seed=runs + 1)
                    print(f"bench.sendtier run=light {_describe(light)}", flush=True)
                finally:
                    settled.close()
        finally:
            asyncio.run(_delete_stream(stream))
    return results, light


async def _delete_stream(stream: str) -> None:
    bus = JetStreamBus(NATS_URL, stream=stream, namespace=stream)
    await bus.start()
    try:
        await bus.delete_stream()
    finally:
        await bus.close()


def _describe(result: RunResult) -> str:
    cpu = " ".join(
        f"cpu_ms_per_msg.{name.replace(' ', '_')}={ms:.2f}"
        for name, ms in sorted(result.cpu_ms_per_message.items(), key=lambda kv: -kv[1])
    )
    return (
        f"offered={result.offered} accepted={result.accepted} "
        f"accepted_per_s={result.accepted_per_s:.0f} p99_ms={result.p99_ms:.1f} "
        f"settled_per_s={result.settled_per_s:.0f} unsettled={result.unsettled} "
        f"recipients_per_call={result.recipients_per_call:.1f} {cpu}"
    )


def table_rows(rate: float = TARGET_RATE, seconds: float = SECONDS_PER_RUN) -> list[Row]:
    """This benchmark as rows of the `make bench` table."""
    results, light = run(rate, seconds)
    setup = f"processes, JetStream + MariaDB, {rate:,.0f} msg/s offered"
    return [
        median_row(
            "send tier end to end: accepted",
            setup,
            [r.accepted_per_s for r in results],
            "msg/s",
            f"≥ {TARGET_RATE:,.0f}",
        ),
        median_row(
            "send tier end to end: stored with receipt",
            setup,
            [r.settled_per_s for r in results],
            "msg/s",
            f"≥ {TARGET_RATE:,.0f}",
        ),
        median_row(
            "send tier end to end: API p99 latency",
            setup,
            [r.p99_ms for r in results],
            "ms",
            f"≤ {TARGET_P99_MS:,.0f}",
        ),
        median_row(
            "send tier end to end: API p99 latency",
            f"processes, JetStream + MariaDB, {LIGHT_RATE:,.0f} msg/s offered",
            [light.p99_ms],
            "ms",
        ),
        median_row(
            "send tier end to end: recipients per supplier call",
            setup,
            [r.recipients_per_call for r in results],
            "recipients",
        ),
        median_row(
            "send tier end to end: CPU per message",
            "every process, NATS and MariaDB included",
            [sum(r.cpu_ms_per_message.values()) * 1000 for r in results],
            "µs",
            f"≤ {2_000_000 / TARGET_RATE:,.0f} (2 cores)",
        ),
    ]


if __name__ == "__main__":
    arguments = sys.argv[1:]
    offered = float(arguments[0]) if arguments else TARGET_RATE
    duration = float(arguments[1]) if len(arguments) > 1 else SECONDS_PER_RUN
    run(offered, duration)  # prints a line per run
