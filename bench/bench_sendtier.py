"""End-to-end benchmark of the send tier: API → dispatch → simulator → receipt → persisted.

One process per service, started with the CLI (`python -m sendtier api|dispatch|...`), on NATS
JetStream and a fresh MariaDB database; the four demo supplier simulators run in a process of
their own. The load generator (sendtier.load) runs here, open loop, at the target rate with
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
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pymysql
import yaml

from bench.table import Row, median_row
from controlplane.bus import JetStreamBus
from controlplane.settings import BusSettings, DatabaseSettings
from sendtier.demo import DemoPlatform, DemoPorts, demo_platform
from sendtier.load import run_load

NATS_URL = "nats://127.0.0.1:4222"
MARIADB = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}
TARGET_RATE = 5_000.0  # messages/s, the issue's target
TARGET_P99_MS = 50.0
SECONDS_PER_RUN = 2.0
RUNS = 3
# A rate this machine sustains, to show the API's latency when it is not overloaded.
LIGHT_RATE = 150.0
LIGHT_SECONDS = 5.0
BATCH = 100  # recipients per notification/marketing request (OTP goes one per request)
STALL_S = 15.0  # no message settled for this long: the rest never will
# Order of start: the simulators and the consumers first, the front door last.
PROCESSES = ("simulators", "persist", "receipts", "dispatch", "api")
# Suppliers as fast as good real ones: ~20 ms submits, receipts within a second or two,
# pushed in batches where the dialect batches; 0.5 % of submits fail (retried elsewhere).
BENCH_PLAN: dict[str, Any] = {
    "submit": {
        "latency": {"kind": "lognormal", "median_ms": 20, "p99_ms": 100},
        "error_rate": 0.005,
    },
    "receipts": {
        "delay": {"kind": "lognormal", "median_ms": 300, "p99_ms": 2000},
        "validity_s": 2,
        "batching": {"max_per_push": 100, "flush_interval_ms": 100},
    },
}


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


@dataclass
class SendTierProcesses:
    """The send tier's processes, their logs, and how to reach them."""

    platform: DemoPlatform
    workdir: Path
    processes: dict[str, subprocess.Popen[bytes]]

    @property
    def api_url(self) -> str:
        api = self.platform.settings.api
        return f"http://{api.host}:{api.port}"

    def log_tail(self, name: str, lines: int = 30) -> str:
        text = (self.workdir / f"{name}.log").read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def pids(self) -> dict[str, int]:
        pids = {name: process.pid for name, process in self.processes.items()}
        pids.update(_server_pids())
        return pids


def _free_ports(count: int) -> list[int]:
    import socket

    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _server_pids() -> dict[str, int]:
    """NATS and MariaDB run on this machine too: their CPU is part of the cost."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if command in ("nats-server", "mariadbd"):
            found[command] = int(entry.name)
    return found


def _cpu_seconds(pid: int) -> float:
    if pid == os.getpid():
        times = os.times()
        return times.user + times.system
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def mariadb_database() -> Iterator[str]:
    name = f"smsctl_bench_{uuid.uuid4().hex[:12]}"
    admin = pymysql.connect(**MARIADB)
    try:
        with admin.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        yield name
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


@contextmanager
def send_tier_processes(database: str, stream: str) -> Iterator[SendTierProcesses]:
    """Start every process with the CLI, wait until each is healthy; SIGTERM them at the end."""
    api, dispatch, receipts, persist, *sims = _free_ports(8)
    ports = DemoPorts(api, dispatch, receipts, persist, (sims[0], sims[1], sims[2], sims[3]))
    url = f"mysql+pymysql://root@{MARIADB['host']}:{MARIADB['port']}/{database}?charset=utf8mb4"
    bus = BusSettings(backend="jetstream", url=NATS_URL, stream=stream, namespace=stream)
    platform = demo_platform(ports, DatabaseSettings(url=url), bus)
    with tempfile.TemporaryDirectory(prefix="bench_sendtier_") as directory:
        workdir = Path(directory)
        config = workdir / "sendtier.yaml"
        document = {**platform.document, "log_level": "WARNING"}
        config.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
        plan = workdir / "plan.yaml"
        plan.write_text(yaml.safe_dump(BENCH_PLAN), encoding="utf-8")
        processes: dict[str, subprocess.Popen[bytes]] = {}
        tier = SendTierProcesses(platform, workdir, processes)
        try:
            for name in PROCESSES:
                extra = ["--plan", str(plan)] if name == "simulators" else []
                with (workdir / f"{name}.log").open("wb") as log:
                    processes[name] = subprocess.Popen(
                        [sys.executable, "-m", "sendtier", name, "--config", str(config), *extra],
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
            _wait_healthy(tier)
            yield tier
        finally:
            _stop(tier)


def _health_urls(tier: SendTierProcesses) -> dict[str, str]:
    settings = tier.platform.settings
    urls = {
        name: f"http://{section.host}:{section.port}"
        for name, section in (
            ("api", settings.api),
            ("dispatch", settings.dispatch),
            ("receipts", settings.receipts),
            ("persist", settings.persist),
        )
    }
    for name, site in tier.platform.simulators.items():
        urls[f"simulator {name}"] = f"http://{site.host}:{site.port}"
    return urls


def _wait_healthy(tier: SendTierProcesses, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    waiting = dict(_health_urls(tier))
    while waiting:
        for name, process in tier.processes.items():
            if process.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with {process.returncode}:\n{tier.log_tail(name)}"
                )
        for name, url in list(waiting.items()):
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    del waiting[name]
            except httpx.HTTPError:
                pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"not healthy after {timeout_s} s: {', '.join(waiting)}")
        time.sleep(0.2)


def _stop(tier: SendTierProcesses) -> None:
    # Front door first, as a deployment drains; each process drains what it holds on SIGTERM.
    for name in reversed(PROCESSES):
        process = tier.processes.get(name)
        if process is None or process.poll() is not None:
            continue
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            print(f"bench.sendtier {name} did not stop on SIGTERM; killed", file=sys.stderr)
            process.kill()
            process.wait()


def _supplier_calls(tier: SendTierProcesses) -> tuple[float, float]:
    """(recipients, calls) dispatch has sent to suppliers so far, from its /metrics."""
    dispatch = tier.platform.settings.dispatch
    text = httpx.get(f"http://{dispatch.host}:{dispatch.port}/metrics", timeout=5).text
    totals = {"sum": 0.0, "count": 0.0}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        for kind in totals:
            if name.startswith(f"smsctl_dispatch_call_recipients_{kind}{{"):
                totals[kind] += float(value)
    return totals["sum"], totals["count"]


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
    recipients_before, calls_before = _supplier_calls(tier)
    cpu_before = {name: _cpu_seconds(pid) for name, pid in pids.items()}
    load_cpu_before = _cpu_seconds(os.getpid())
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
    load_cpu = _cpu_seconds(os.getpid()) - load_cpu_before
    target = settled_before + report.accepted
    count = settled()
    last_progress = time.monotonic()
    while count < target and time.monotonic() - last_progress < STALL_S:
        time.sleep(0.25)
        now_count = settled()
        if now_count > count:
            count, last_progress = now_count, time.monotonic()
    elapsed = last_progress - started
    cpu = {name: _cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
    cpu["load generator"] = load_cpu
    recipients, calls = _supplier_calls(tier)
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
