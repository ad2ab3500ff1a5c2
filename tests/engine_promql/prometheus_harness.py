"""A real Prometheus for tests: a tiny exporter, a Prometheus scraping it, and pytest fixtures.

Everything binds to 127.0.0.1 on free ports, keeps its data in a temporary directory, and is
stopped by the fixture that started it. The session-wide Prometheus is shared by every test
(it takes a second or two to start); tests keep apart by using their own label values.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

PROMETHEUS_BINARY = "/usr/bin/prometheus"
PROMETHEUS_INSTALL = "apt-get install -y --no-install-recommends prometheus"
SCRAPE_INTERVAL = "1s"


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class MetricsExporter:
    """A /metrics endpoint served by prometheus_client, with metrics the test sets."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.queue_depth = Gauge(
            "harness_queue_depth", "Messages waiting, per queue.", ["queue"], registry=self.registry
        )
        self.requests = Counter(
            "harness_requests", "Requests served, per code.", ["code"], registry=self.registry
        )
        self._server, self._thread = start_http_server(0, addr="127.0.0.1", registry=self.registry)
        self.port: int = self._server.server_port

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class PrometheusServer:
    """/usr/bin/prometheus on a free port, scraping `targets` every second."""

    def __init__(self, targets: Sequence[str], workdir: Path) -> None:
        self.targets = list(targets)
        self.workdir = workdir
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        workdir.mkdir(parents=True, exist_ok=True)
        self._config = workdir / "prometheus.yml"
        config = {
            "global": {"scrape_interval": SCRAPE_INTERVAL, "scrape_timeout": SCRAPE_INTERVAL},
            "scrape_configs": [
                {"job_name": "harness", "static_configs": [{"targets": self.targets}]}
            ],
        }
        self._config.write_text(yaml.safe_dump(config))
        self._log = workdir / "prometheus.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout_s: float = 30.0, *, wait_for_scrape: bool = True) -> None:
        """Start (or restart, on the same port and data) and wait until every target is up.

        Prometheus 2.42 applies scrape targets on a 5 s tick, so the first scrape comes about 5 s
        after start. A restart can skip that wait: the data it had is served at once.
        """
        if not Path(PROMETHEUS_BINARY).exists():
            pytest.fail(f"{PROMETHEUS_BINARY} is missing; install it: {PROMETHEUS_INSTALL}")
        for _attempt in range(3):  # a free port can be taken between probing and binding
            self.port = self.port or free_port()
            with self._log.open("ab") as log_file:
                self._process = subprocess.Popen(
                    [
                        PROMETHEUS_BINARY,
                        f"--config.file={self._config}",
                        f"--storage.tsdb.path={self.workdir / 'data'}",
                        f"--web.listen-address=127.0.0.1:{self.port}",
                        "--log.level=warn",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=log_file,
                )
            if self._wait_until_serving(timeout_s, wait_for_scrape):
                return
            if self.running:
                break
            self.port = 0
        self.stop()
        log_tail = self._log.read_text(errors="replace")[-2000:]
        pytest.fail(f"Prometheus did not start serving {self.targets}; its log:\n{log_tail}")

    def _wait_until_serving(self, timeout_s: float, wait_for_scrape: bool) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self.running:
            try:
                if self._scraping() if wait_for_scrape else self._ready():
                    return True
            except (httpx.HTTPError, ValueError, KeyError):
                pass  # not listening yet
            time.sleep(0.05)
        return False

    def _ready(self) -> bool:
        return httpx.get(f"{self.url}/-/ready", timeout=1.0).status_code == 200

    def _scraping(self) -> bool:
        answer = httpx.get(f"{self.url}/api/v1/targets", timeout=1.0).json()
        health = [target["health"] for target in answer["data"]["activeTargets"]]
        return len(health) == len(self.targets) and all(h == "up" for h in health)

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The raw instant-query result, read directly (not through the code under test)."""
        answer = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=5.0)
        answer.raise_for_status()
        result: list[dict[str, Any]] = answer.json()["data"]["result"]
        return result

    def wait_for(
        self, expr: str, predicate: Callable[[list[dict[str, Any]]], bool], timeout_s: float = 10.0
    ) -> list[dict[str, Any]]:
        """Poll `expr` until `predicate` holds on its result (a new scrape lands every second)."""
        deadline = time.monotonic() + timeout_s
        while True:
            result = self.query(expr)
            if predicate(result):
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"{expr} never matched within {timeout_s}s; last: {result}")
            time.sleep(0.05)

    def wait_for_value(self, expr: str, value: float, timeout_s: float = 10.0) -> None:
        """Wait until `expr` is one series whose latest value is `value`."""
        self.wait_for(
            expr,
            lambda result: len(result) == 1 and float(result[0]["value"][1]) == value,
            timeout_s,
        )


@pytest.fixture(scope="session")
def metrics_exporter() -> Iterator[MetricsExporter]:
    exporter = MetricsExporter()
    yield exporter
    exporter.close()


@pytest.fixture(scope="session")
def prometheus(
    metrics_exporter: MetricsExporter, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PrometheusServer]:
    """One Prometheus for the session, scraping the exporter; do not stop it in a test."""
    server = PrometheusServer([metrics_exporter.target], tmp_path_factory.mktemp("prometheus"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def start_prometheus(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[[Sequence[str]], PrometheusServer]]:
    """Start a Prometheus of the test's own (one it may stop); all are stopped afterwards."""
    started: list[PrometheusServer] = []

    def start(targets: Sequence[str]) -> PrometheusServer:
        server = PrometheusServer(targets, tmp_path_factory.mktemp("own-prometheus"))
        started.append(server)
        server.start()
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def closed_port_url() -> str:
    """An HTTP URL on 127.0.0.1 where nothing listens: a Prometheus that is down."""
    return f"http://127.0.0.1:{free_port()}"
