"""The send tier as the end-to-end bench runs it: one process per service, started with the CLI
on JetStream and a fresh MariaDB database, with their CPU time read from /proc."""

from __future__ import annotations

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

from smsplatform.config.settings import BusSettings, DatabaseSettings
from testbench.demo.platform import DemoPlatform, DemoPorts, demo_platform

NATS_URL = "nats://127.0.0.1:4222"
MARIADB = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}
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


def cpu_seconds(pid: int) -> float:
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
                        [
                            sys.executable,
                            "-m",
                            "smsctl.cli",
                            "sendtier",
                            name,
                            "--config",
                            str(config),
                            *extra,
                        ],
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


def supplier_calls(tier: SendTierProcesses) -> tuple[float, float]:
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
