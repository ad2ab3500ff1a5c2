"""Alert router throughput, side by side with Alertmanager 0.25 on the same machine.

One run starts Debian's Alertmanager (single node, clustering off, storage in a temp dir) and
the smsctl control plane (`python -m smsctl.cli run`, its alerting stage on a fresh MariaDB
database), both routing `group_by: [group]`, `group_wait: 1s` to one local webhook receiver each.
Each repetition posts the same 10,000 alerts in 500 groups to each router in turn, through its
alert API (POST /api/v2/alerts, batches of 64 as Prometheus sends them, 4 in flight), and
measures the accept rate, the time from the first post until the webhook holds every group's
notification, the router's CPU time, and whether both produced the same groups with the same
alerts. Each repetition's alerts carry a fresh `run` label, so its 500 groups are new to both.

Run from the repository root: `.venv/bin/python -m bench.bench_router [repetitions]`.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.bench_persist import mariadb_database
from bench.sendtier_processes import cpu_seconds
from bench.table import Row, median_row, render

ALERTMANAGER = "/usr/bin/prometheus-alertmanager"
TOKEN = "bench-router-admin-token-0123456789"
GROUPS = 500
ALERTS_PER_GROUP = 20
BATCH = 64  # Prometheus' default max alerts per request to Alertmanager
IN_FLIGHT = 4
RUNS = 5
GROUP_WAIT_S = 1.0
DELIVERY_TIMEOUT_S = 30.0
ROUTING = """
route:
  receiver: hook
  group_by: [group]
  group_wait: 1s
  group_interval: 1h
  repeat_interval: 24h
receivers:
  - name: hook
    webhook_configs:
      - url: {url}
        send_resolved: false
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Arrival:
    at: float  # time.monotonic() when the request was read
    payload: dict[str, Any]


class WebhookSink:
    """A webhook receiver on its own thread: records each payload with its arrival time."""

    def __init__(self) -> None:
        self.arrivals: list[Arrival] = []
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real receiver behind a proxy

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                arrival = Arrival(time.monotonic(), orjson.loads(body))
                with sink._lock:
                    sink.arrivals.append(arrival)
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None  # one line per notification would drown the bench's output

        class Server(ThreadingHTTPServer):
            request_queue_size = 256  # the default 5 resets connections a router opens at once

        self._server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> WebhookSink:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def of_run(self, run: str) -> list[Arrival]:
        with self._lock:
            return [a for a in self.arrivals if a.payload["commonLabels"].get("run") == run]


@dataclass(frozen=True)
class Router:
    """A running router: where to post, its process (for CPU time) and its webhook sink."""

    name: str
    alerts_url: str
    process: subprocess.Popen[bytes]
    sink: WebhookSink


def _wait_ready(url: str, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode} during start-up")
        try:
            if httpx.get(url, timeout=0.5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not become ready at {url}")


@contextmanager
def _stopped_at_exit(process: subprocess.Popen[bytes]) -> Iterator[subprocess.Popen[bytes]]:
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def alertmanager(workdir: Path, sink: WebhookSink) -> Iterator[Router]:
    config = workdir / "alertmanager.yml"
    config.write_text(ROUTING.format(url=sink.url))
    port = free_port()
    command = [
        ALERTMANAGER,
        f"--config.file={config}",
        f"--storage.path={workdir / 'am-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
        "--log.level=warn",
    ]
    started = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with _stopped_at_exit(started) as process:
        _wait_ready(f"http://127.0.0.1:{port}/-/ready", process, "alertmanager")
        yield Router("Alertmanager 0.25", f"http://127.0.0.1:{port}/api/v2/alerts", process, sink)


@contextmanager
def smsctl(workdir: Path, sink: WebhookSink, database_url: str) -> Iterator[Router]:
    config = workdir / "alerting.yaml"
    config.write_text(ROUTING.format(url=sink.url))
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SMSCTL_")},
        "SMSCTL_ADMIN_TOKEN": TOKEN,
        "SMSCTL_LOG_LEVEL": "WARNING",
        "SMSCTL_DATABASE__URL": database_url,
        "SMSCTL_BUS__BACKEND": "memory",
        "SMSCTL_INGEST__PERSIST_ENABLED": "false",
        "SMSCTL_ALERTING__CONFIG": str(config),
    }
    command = [sys.executable, "-m", "smsctl.cli", "run", "--port", str(port)]
    started = subprocess.Popen(command, env=env, cwd=workdir, stdout=subprocess.DEVNULL)
    with _stopped_at_exit(started) as process:
        _wait_ready(f"http://127.0.0.1:{port}/healthz", process, "smsctl")
        yield Router("smsctl", f"http://127.0.0.1:{port}/api/v2/alerts", process, sink)


def alert_labels(run: str, group: int, instance: int) -> dict[str, str]:
    # The group value carries the run too: a group a router already holds (from an earlier
    # run) would wait group_interval, not group_wait.
    return {
        "alertname": "RouterBench",
        "run": run,
        "group": f"g{group:03d}@{run}",
        "instance": f"i{instance:02d}",
        "severity": "warning",
    }


def alert_batches(run: str) -> list[bytes]:
    """The run's 10,000 alerts, interleaved across groups as many rules' evaluations are."""
    starts_at = datetime.now(UTC).isoformat()
    alerts = [
        {
            "labels": alert_labels(run, group, instance),
            "annotations": {"summary": f"instance {instance} of group {group}"},
            "startsAt": starts_at,
            "generatorURL": "http://127.0.0.1:9090/graph",
        }
        for instance in range(ALERTS_PER_GROUP)
        for group in range(GROUPS)
    ]
    return [orjson.dumps(alerts[i : i + BATCH]) for i in range(0, len(alerts), BATCH)]


async def _post_all(url: str, batches: list[bytes]) -> float:
    """Post every batch, IN_FLIGHT at a time; returns seconds from first post to last answer."""
    queue = list(reversed(batches))
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}
    limits = httpx.Limits(max_connections=IN_FLIGHT)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:

        async def poster() -> None:
            while queue:
                answer = await client.post(url, content=queue.pop(), headers=headers)
                answer.raise_for_status()

        started = time.monotonic()
        await asyncio.gather(*(poster() for _ in range(IN_FLIGHT)))
        return time.monotonic() - started


# A notification as (its group labels, the label sets of its alerts), the run label left out
# so the two routers' groups compare.
GroupShape = tuple[tuple[tuple[str, str], ...], frozenset[tuple[tuple[str, str], ...]]]


def _label_set(labels: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """The labels without the run: its own label, and its mark on the group label."""
    return tuple(sorted((k, v.split("@")[0]) for k, v in labels.items() if k != "run"))


def group_shapes(payloads: list[dict[str, Any]]) -> set[GroupShape]:
    return {
        (
            _label_set(payload["groupLabels"]),
            frozenset(_label_set(alert["labels"]) for alert in payload["alerts"]),
        )
        for payload in payloads
    }


EXPECTED_SHAPES = group_shapes(
    [
        {
            "groupLabels": {"group": f"g{group:03d}@"},
            "alerts": [{"labels": alert_labels("", group, n)} for n in range(ALERTS_PER_GROUP)],
        }
        for group in range(GROUPS)
    ]
)


@dataclass(frozen=True)
class RunResult:
    accepted_per_s: float
    first_notification_s: float  # after the first post
    last_notification_s: float  # after the first post; inf when some never came
    notifications: int
    cpu_s: float  # the router process's CPU time over the run
    shapes: set[GroupShape]

    @property
    def as_expected(self) -> int:
        """Groups notified once with exactly their 20 alerts."""
        return len(self.shapes & EXPECTED_SHAPES) if self.notifications == GROUPS else 0


def measure(router: Router, run: str) -> RunResult:
    batches = alert_batches(run)
    cpu_before = cpu_seconds(router.process.pid)
    first_post = time.monotonic()
    posting_s = asyncio.run(_post_all(router.alerts_url, batches))
    deadline = first_post + DELIVERY_TIMEOUT_S
    while len(router.sink.of_run(run)) < GROUPS and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)  # a duplicate notification would arrive now
    arrivals = router.sink.of_run(run)
    complete = len(arrivals) >= GROUPS
    return RunResult(
        GROUPS * ALERTS_PER_GROUP / posting_s,
        min((a.at for a in arrivals), default=float("inf")) - first_post,
        max(a.at for a in arrivals) - first_post if complete else float("inf"),
        len(arrivals),
        cpu_seconds(router.process.pid) - cpu_before,
        group_shapes([a.payload for a in arrivals]),
    )


def run_once(routers: list[Router], repetition: int) -> dict[str, RunResult]:
    """One repetition: the same alerts (in fresh groups) to each router in turn, not at once."""
    results = {}
    for router in routers:
        result = measure(router, f"r{repetition}-{router.process.pid}")
        results[router.name] = result
        print(
            f"bench.router run={repetition} router={router.name!r}"
            f" accepted_per_s={result.accepted_per_s:.0f}"
            f" first_notification_ms={result.first_notification_s * 1000:.0f}"
            f" last_notification_ms={result.last_notification_s * 1000:.0f}"
            f" notifications={result.notifications} groups_as_expected={result.as_expected}"
            f" cpu_ms={result.cpu_s * 1000:.0f}",
            flush=True,
        )
    return results


def _rows(name: str, results: list[RunResult], reference: list[RunResult] | None) -> list[Row]:
    """The table rows of one router; `reference` (Alertmanager's runs) sets smsctl's targets."""
    accept_target = last_target = same_target = ""
    same = [float(r.as_expected) for r in results]
    if reference is not None:
        half = statistics.median(r.accepted_per_s for r in reference) / 2
        accept_target = f"≥ {half:,.0f} (½ Alertmanager's)"
        last_target = f"≤ {(GROUP_WAIT_S + 1) * 1000:,.0f}"
        same = [float(len(r.shapes & a.shapes)) for r, a in zip(results, reference, strict=True)]
        same_target = f"{GROUPS}"
    return [
        median_row(
            "router: accept 10,000 alerts",
            name,
            [r.accepted_per_s for r in results],
            "alerts/s",
            accept_target,
        ),
        median_row(
            "router: last of 500 notifications",
            name,
            [r.last_notification_s * 1000 for r in results],
            "ms after first post",
            last_target,
        ),
        median_row(
            "router: groups as expected" if reference is None else "router: groups = AM's",
            name,
            same,
            "groups",
            same_target,
        ),
        median_row("router: CPU time per run", name, [r.cpu_s * 1000 for r in results], "ms"),
    ]


def table_rows(runs: int = RUNS) -> list[Row]:
    """Alertmanager's rows, then smsctl's with targets taken from Alertmanager's runs."""
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench_router_")))
        database_url = stack.enter_context(mariadb_database())
        am_sink = stack.enter_context(WebhookSink())
        ours_sink = stack.enter_context(WebhookSink())
        routers = [
            stack.enter_context(alertmanager(workdir, am_sink)),
            stack.enter_context(smsctl(workdir, ours_sink, database_url)),
        ]
        run_once(routers, 0)  # warm-up: first requests, connection pools, JIT-less caches
        measured = [run_once(routers, n) for n in range(1, runs + 1)]
    am = [m[routers[0].name] for m in measured]
    ours = [m[routers[1].name] for m in measured]
    return _rows(routers[0].name, am, None) + _rows(routers[1].name, ours, am)


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else RUNS
    print(render(table_rows(runs)))


if __name__ == "__main__":
    main()
