"""Fault (a) live, watched two ways: smsctl's cut-over, and the usual Prometheus stack.

`smsctl run --all` (what `make run` starts: control plane, send tier, four simulators and
background load) runs as a process of its own, twice:
- with cut-over on, `smsctl demo`'s scenario (a) times the fault's onset to the routing table's
  change;
- with cut-over off (traffic keeps flowing to the faulty supplier, as where alerts page a human;
  a cut-over would starve the usual stack of the very receipts it needs), a real Prometheus
  scrapes the send tier's receipt gateway `/metrics` every 15 s and evaluates a delivery-rate
  rule every 15 s with `for: 1m`, and a real Alertmanager (`group_wait: 30s`) posts to a webhook
  receiver here: onset to that webhook.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import yaml

from testbench.demo.platform import WEIGHTS, DemoPorts
from testbench.demo.scenario import DemoTargets, degraded_plan, run_scenario_a
from testbench.fakes.server import running_fake
from testbench.fakes.webhook import WebhookReceiverFake

TOKEN = "bench-cutover-admin-token-0123456789"
SUPPLIER, CARRIER = "aliyun", "cmcc"
# The background load of `make run` reaches each supplier by weight and each carrier by a third:
# this rate gives the faulty supplier 10 messages/s to the faulty carrier.
PER_SUPPLIER_RATE = 10.0
LOAD_RATE = PER_SUPPLIER_RATE * 3 * sum(WEIGHTS.values()) / WEIGHTS[SUPPLIER]
SCRAPE_S = 15
# The delivery rate per supplier and carrier as Prometheus sees it, from the gateway's counter.
DELIVERY_RATIO = (
    'sum by (supplier, carrier) (rate(sendtier_receipts_total{status="DELIVERED"}[1m]))'
    " / sum by (supplier, carrier) (rate(sendtier_receipts_total[1m]))"
)
PROMETHEUS_RULE = {
    "groups": [
        {
            "name": "supplier-delivery",
            "interval": f"{SCRAPE_S}s",
            "rules": [
                {
                    "alert": "SupplierDeliveryRateLow",
                    "expr": f"{DELIVERY_RATIO} < 0.9",
                    "for": "1m",
                    "labels": {"severity": "critical"},
                }
            ],
        }
    ]
}
GIVE_UP_S = 600.0
FAULTY_DELIVERY = 0.6
# Both watchers see healthy traffic this long before the fault: a learned baseline.
WARM_UP_S = 30.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _require_free(ports: list[int]) -> None:
    for port in ports:
        with socket.socket() as sock:
            # As the servers bind: a port the last run left in TIME_WAIT is free to them.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                raise RuntimeError(
                    f"port {port} is taken: the live cut-over bench starts `smsctl run --all`, "
                    "which serves on the demo ports (is `make run` running?)"
                ) from None


@contextmanager
def _process(command: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90
    async with httpx.AsyncClient(timeout=2) as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{url} exited: {log.read_text(errors='replace')[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(url)).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} not ready in 90 s")


def _smsctl_config(workdir: Path, control_port: int, cutover: bool) -> Path:
    repo = Path(__file__).resolve().parent.parent
    smsctl: dict[str, Any] = {
        "server": {"host": "127.0.0.1", "port": control_port},
        "database": {"url": f"sqlite:///{workdir}/smsctl.db"},
        "rules": {"paths": [str(repo / "rules")], "watch": False},
        "auth": {"tokens": [{"name": "bench", "token": TOKEN, "scopes": ["admin"]}]},
        "log_level": "WARNING",
    }
    if not cutover:
        smsctl["cutover"] = {"enabled": False}
    path = workdir / "smsctl.yaml"
    path.write_text(yaml.safe_dump(smsctl), encoding="utf-8")
    return path


def _usual_stack_configs(workdir: Path, alertmanager: int, hook_url: str) -> None:
    receipts = DemoPorts().receipts
    prometheus = {
        "global": {"scrape_interval": f"{SCRAPE_S}s", "evaluation_interval": f"{SCRAPE_S}s"},
        "rule_files": [str(workdir / "rules.yml")],
        "alerting": {
            "alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{alertmanager}"]}]}]
        },
        "scrape_configs": [
            {
                "job_name": "sendtier-receipts",
                "static_configs": [{"targets": [f"127.0.0.1:{receipts}"]}],
            }
        ],
    }
    alertmanager_config = {
        "route": {
            "receiver": "hook",
            "group_by": ["alertname", "supplier", "carrier"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
        },
        "receivers": [{"name": "hook", "webhook_configs": [{"url": hook_url}]}],
    }
    for name, document in (
        ("prometheus.yml", prometheus),
        ("rules.yml", PROMETHEUS_RULE),
        ("alertmanager.yml", alertmanager_config),
    ):
        (workdir / name).write_text(yaml.safe_dump(document), encoding="utf-8")


@asynccontextmanager
async def _running_system(workdir: Path, cutover: bool) -> AsyncIterator[str]:
    """`smsctl run --all` in a process of its own until the block exits; yields its URL."""
    ports = DemoPorts()
    _require_free([ports.api, ports.dispatch, ports.receipts, ports.persist, *ports.simulators])
    workdir.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    config = _smsctl_config(workdir, port, cutover)
    command = [sys.executable, "-m", "smsctl.cli", "--config", str(config), "run", "--all"]
    command += ["--port", str(port), "--load-rate", f"{LOAD_RATE:.0f}"]
    with _process(command, workdir / "smsctl.log") as system:
        url = f"http://127.0.0.1:{port}"
        await _wait_ready(f"{url}/healthz", system, workdir / "smsctl.log")
        yield url


@asynccontextmanager
async def _usual_stack(workdir: Path, hook_url: str) -> AsyncIterator[str]:
    """Prometheus and Alertmanager watching the send tier; yields Prometheus's URL."""
    prom, alerts = _free_port(), _free_port()
    _usual_stack_configs(workdir, alerts, hook_url)
    alertmanager = ["/usr/bin/prometheus-alertmanager"]
    alertmanager += [f"--config.file={workdir / 'alertmanager.yml'}"]
    alertmanager += [f"--storage.path={workdir / 'am'}", f"--web.listen-address=127.0.0.1:{alerts}"]
    alertmanager += ["--cluster.listen-address="]
    prometheus = ["/usr/bin/prometheus", f"--config.file={workdir / 'prometheus.yml'}"]
    prometheus += [f"--storage.tsdb.path={workdir / 'tsdb'}"]
    prometheus += [f"--web.listen-address=127.0.0.1:{prom}"]
    with (
        _process(alertmanager, workdir / "alertmanager.log") as am,
        _process(prometheus, workdir / "prometheus.log") as prometheus_process,
    ):
        prometheus_url = f"http://127.0.0.1:{prom}"
        await _wait_ready(f"http://127.0.0.1:{alerts}/-/ready", am, workdir / "alertmanager.log")
        await _wait_ready(
            f"{prometheus_url}/-/ready", prometheus_process, workdir / "prometheus.log"
        )
        yield prometheus_url


async def _until_prometheus_sees_traffic(prometheus_url: str) -> None:
    """The rule has a value for the faulty supplier: Prometheus has two scrapes of its receipts."""
    async with httpx.AsyncClient(timeout=5) as http:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            answer = await http.get(
                f"{prometheus_url}/api/v1/query", params={"query": DELIVERY_RATIO}
            )
            series = answer.json()["data"]["result"]
            if any(s["metric"] == {"supplier": SUPPLIER, "carrier": CARRIER} for s in series):
                return
            await asyncio.sleep(1)
    raise RuntimeError("Prometheus never saw the faulty supplier's receipts")


def _webhook_names_fault(body: object) -> bool:
    if not isinstance(body, dict):
        return False
    return any(
        alert.get("status") == "firing"
        and alert.get("labels", {}).get("supplier") == SUPPLIER
        and alert.get("labels", {}).get("carrier") == CARRIER
        for alert in body.get("alerts", [])
    )


def _targets(control_url: str) -> DemoTargets:
    simulator = f"http://127.0.0.1:{DemoPorts().simulators[0]}"
    return DemoTargets(control_url, TOKEN, simulator, SUPPLIER, CARRIER)


async def measure_smsctl(workdir: Path) -> tuple[float | None, list[str]]:
    """Seconds from onset to the routing change (None: none in time), and the timeline."""
    lines: list[str] = []
    async with _running_system(workdir / "smsctl", cutover=True) as control:
        await asyncio.sleep(WARM_UP_S)  # the health model learns the suppliers' usual rates
        result = await run_scenario_a(
            _targets(control), lines.append, hold=lambda: asyncio.sleep(0), watch_failback=False
        )
    return result.to_cutover_s, lines


async def measure_usual(workdir: Path) -> float | None:
    """Seconds from onset to Alertmanager's webhook naming the fault (None: none in time)."""
    hook = WebhookReceiverFake()
    directory = workdir / "usual"
    async with (
        running_fake(hook.app) as hook_url,
        _running_system(directory, cutover=False),
        _usual_stack(directory, f"{hook_url}/alertmanager") as prometheus,
        httpx.AsyncClient(timeout=10) as http,
    ):
        await _until_prometheus_sees_traffic(prometheus)
        plan_url = f"{_targets('').simulator_url}/_sim/plan"
        original = (await http.get(plan_url)).raise_for_status().json()
        faulty = degraded_plan(original, CARRIER, FAULTY_DELIVERY)
        (await http.post(plan_url, json=faulty)).raise_for_status()
        onset = time.monotonic()
        try:
            arrived = await _first_webhook(hook)
        finally:
            (await http.post(plan_url, json=original)).raise_for_status()
    return arrived - onset if arrived is not None else None


async def _first_webhook(hook: WebhookReceiverFake) -> float | None:
    """When (monotonic) the first notification naming the fault arrived; None: not in time."""
    deadline = time.monotonic() + GIVE_UP_S
    while time.monotonic() < deadline:
        if any(_webhook_names_fault(body) for body in hook.inbox.bodies()):
            return time.monotonic()
        await asyncio.sleep(0.05)
    return None
