"""Shared by the end-to-end tests: ports, fault plans, processes, sending, reading the outcome."""

from __future__ import annotations

import asyncio
import copy
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml
from sqlalchemy import text

from sendtier.storage import Database
from smsplatform.config.settings import BusSettings, DatabaseSettings
from testbench.demo.platform import DemoPlatform, DemoPorts, demo_platform, platform_from

# Suppliers that answer at once and report within about a second (expired messages too: their
# validity is a second), in batched pushes where the dialect batches (Twilio posts one status
# per request whatever the plan says). Reports come after the gateway has indexed the submit,
# as with real suppliers, rather than racing it.
FAST_PLAN: dict[str, Any] = {
    "submit": {"latency": {"kind": "fixed", "median_ms": 1}},
    "receipts": {
        "delay": {"kind": "uniform", "median_ms": 700, "p99_ms": 1000},
        "validity_s": 1.0,
        "batching": {"max_per_push": 200, "flush_interval_ms": 100},
    },
}
# The faulty supplier: every other submit fails with its platform error (Alibaba's
# isp.SYSTEM_ERROR, retriable elsewhere, SUPPLIERS.md §7.2).
FAULTY_SUPPLIER = "aliyun"
FAULTY_PLAN: dict[str, Any] = {**FAST_PLAN, "submit": {**FAST_PLAN["submit"], "error_rate": 0.5}}
# Mainland mobile prefixes, one per carrier, so every route gets traffic.
PREFIXES = ("139", "186", "189")
# Notification and marketing templates of the demo, with their parameters.
TEMPLATE_PARAMS = {
    "order-shipped": {"order": "A1001", "tracking": "SF123"},
    "festival-sale": {"discount": "8"},
}


def free_ports(count: int) -> list[int]:
    """Ports free right now on 127.0.0.1 (held together while picked, so all differ)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def platform_on(mariadb_url: str, nats_url: str, stream: str) -> DemoPlatform:
    """The demo platform on free ports, JetStream (its own stream) and the test's MariaDB.

    Submits may take up to 30 s: on a machine shared with other test runs a slow answer is
    possible, and a submit that times out is never resent (it may have been sent), which is
    not what these tests are about.
    """
    api, dispatch, receipts, persist, *sims = free_ports(8)
    ports = DemoPorts(api, dispatch, receipts, persist, (sims[0], sims[1], sims[2], sims[3]))
    bus = BusSettings(backend="jetstream", url=nats_url, stream=stream, namespace=stream)
    demo = demo_platform(ports, DatabaseSettings(url=mariadb_url), bus)
    document = copy.deepcopy(demo.document)
    for supplier in document["suppliers"]:
        supplier["timeout_s"] = 30.0
    return platform_from(document, demo.tenant_tokens)


def simulator_urls(platform: DemoPlatform) -> dict[str, str]:
    return {
        f"simulator {name}": f"http://{site.host}:{site.port}"
        for name, site in platform.simulators.items()
    }


def service_urls(platform: DemoPlatform) -> dict[str, str]:
    settings = platform.settings
    return {
        name: f"http://{section.host}:{section.port}"
        for name, section in (
            ("api", settings.api),
            ("dispatch", settings.dispatch),
            ("receipts", settings.receipts),
            ("persist", settings.persist),
        )
    }


def phone(number: int) -> str:
    """A distinct mainland mobile number per message: no per-number limit comes into play."""
    return f"+86{PREFIXES[number % len(PREFIXES)]}{number:08d}"


async def send_batches(
    api_url: str, token: str, total: int, batch_size: int, concurrency: int = 4
) -> list[str]:
    """Send `total` messages through POST /v1/messages/batch; the accepted message ids."""
    starts = list(range(0, total, batch_size))
    accepted: list[str] = []
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=api_url, headers=headers, timeout=30) as client:

        async def send(start: int) -> None:
            template = list(TEMPLATE_PARAMS)[(start // batch_size) % len(TEMPLATE_PARAMS)]
            body = {
                "template_id": template,
                "params": TEMPLATE_PARAMS[template],
                "recipients": [
                    {"phone": phone(n)} for n in range(start, min(start + batch_size, total))
                ],
            }
            answer = await client.post("/v1/messages/batch", json=body)
            assert answer.status_code == 202, answer.text
            reply = answer.json()
            assert reply["rejected"] == []
            accepted.extend(m["message_id"] for m in reply["messages"])

        slots = asyncio.Semaphore(concurrency)

        async def bounded(start: int) -> None:
            async with slots:
                await send(start)

        await asyncio.gather(*(bounded(start) for start in starts))
    return accepted


@dataclass(frozen=True)
class Stored:
    """What the database holds after a run, per message id."""

    messages: dict[str, str | None]  # id → last status
    accepted_submits: dict[str, list[tuple[str, int]]]  # id → [(supplier, attempt)]
    failed_submits: list[tuple[str, str, int, str | None, str | None]]  # id, supplier, attempt,
    # error code, error class
    receipts: dict[str, list[tuple[str, str]]]  # id → [(supplier, status)]
    duplicate_attempts: int  # (message, attempt) pairs stored more than once


def read_stored(database: Database) -> Stored:
    with database.engine.connect() as connection:
        messages = {
            row.id: row.last_status
            for row in connection.execute(text("SELECT id, last_status FROM messages"))
        }
        accepted: dict[str, list[tuple[str, int]]] = {}
        failed = []
        for row in connection.execute(
            text(
                "SELECT message_id, supplier, attempt, accepted, error_code, error_class "
                "FROM submit_results"
            )
        ):
            if row.accepted:
                accepted.setdefault(row.message_id, []).append((row.supplier, row.attempt))
            else:
                failed.append(
                    (row.message_id, row.supplier, row.attempt, row.error_code, row.error_class)
                )
        receipts: dict[str, list[tuple[str, str]]] = {}
        for row in connection.execute(text("SELECT message_id, supplier, status FROM receipts")):
            receipts.setdefault(row.message_id, []).append((row.supplier, row.status))
        duplicates = connection.execute(
            text(
                "SELECT COUNT(*) FROM (SELECT message_id, attempt FROM submit_results "
                "GROUP BY message_id, attempt HAVING COUNT(*) > 1) AS twice"
            )
        ).scalar_one()
    return Stored(messages, accepted, failed, receipts, int(duplicates))


def count_settled(database: Database) -> int:
    """Messages stored with a receipt: the end of a message's journey."""
    with database.engine.connect() as connection:
        return int(
            connection.execute(
                text("SELECT COUNT(*) FROM messages WHERE last_status IS NOT NULL")
            ).scalar_one()
        )


async def wait_until(
    condition: Callable[[], bool], timeout_s: float, what: str, poll_s: float = 0.25
) -> None:
    deadline = time.monotonic() + timeout_s
    while not await asyncio.to_thread(condition):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(poll_s)


def assert_each_sent_once_with_its_receipt(stored: Stored, accepted: Sequence[str]) -> None:
    """Every accepted message persisted, submitted successfully exactly once, with one receipt
    from the supplier that took it; failures on the faulty supplier were retried elsewhere."""
    ids = set(accepted)
    assert len(ids) == len(accepted), "the API gave out a message id twice"
    assert set(stored.messages) == ids
    assert set(stored.accepted_submits) == ids
    taken_twice = {m: s for m, s in stored.accepted_submits.items() if len(s) != 1}
    assert taken_twice == {}, f"{len(taken_twice)} messages submitted successfully twice"
    assert stored.duplicate_attempts == 0
    assert set(stored.receipts) == ids
    reported_twice = {m: r for m, r in stored.receipts.items() if len(r) != 1}
    assert reported_twice == {}
    for message_id, [(supplier, _)] in stored.accepted_submits.items():
        [(receipt_supplier, _)] = stored.receipts[message_id]
        assert receipt_supplier == supplier
    assert all(status is not None for status in stored.messages.values())


# --- the send tier as processes, started with its CLI ------------------------------------------
@dataclass
class Processes:
    """Processes started with `python -m smsctl.cli sendtier <command>`, their logs in `workdir`."""

    workdir: Path
    running: dict[str, subprocess.Popen[bytes]]

    def log(self, name: str) -> str:
        return (self.workdir / f"{name}.log").read_text(errors="replace")


def write_settings(platform: DemoPlatform, workdir: Path) -> Path:
    """The platform's sendtier.yaml, as an operator would have it, plus the simulators' plans."""
    config = workdir / "sendtier.yaml"
    document = {**platform.document, "log_level": "WARNING"}
    config.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    (workdir / "fast.yaml").write_text(yaml.safe_dump(FAST_PLAN), encoding="utf-8")
    (workdir / "faulty.yaml").write_text(yaml.safe_dump(FAULTY_PLAN), encoding="utf-8")
    return config


def plan_arguments(workdir: Path) -> list[str]:
    """`--plan` options of the simulators command: fast suppliers, the faulty one faulty."""
    return [
        "--plan",
        str(workdir / "fast.yaml"),
        "--plan",
        f"{FAULTY_SUPPLIER}={workdir}/faulty.yaml",
    ]


@contextmanager
def sendtier_processes(
    config: Path, commands: dict[str, list[str]], health_urls: dict[str, str]
) -> Iterator[Processes]:
    """Start each command (name → extra arguments) in order and wait until every health URL
    answers 200; at the end SIGTERM them in reverse order and check each exits 0 in time."""
    processes = Processes(config.parent, {})
    try:
        for name, extra in commands.items():
            with (config.parent / f"{name}.log").open("wb") as log:
                processes.running[name] = subprocess.Popen(
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
        _wait_healthy(processes, health_urls)
        yield processes
    finally:
        stopped = _stop_all(processes)
    assert stopped == {name: 0 for name in commands}, _logs(processes)


def _wait_healthy(processes: Processes, urls: dict[str, str], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    waiting = dict(urls)
    while waiting:
        for name, process in processes.running.items():
            if process.poll() is not None:
                raise AssertionError(f"{name} exited with {process.returncode}: {_logs(processes)}")
        for name, url in list(waiting.items()):
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    del waiting[name]
            except httpx.HTTPError:
                pass
        if time.monotonic() > deadline:
            raise AssertionError(f"not healthy in {timeout_s} s: {waiting} {_logs(processes)}")
        time.sleep(0.1)


def _stop_all(processes: Processes, timeout_s: float = 20.0) -> dict[str, int | None]:
    codes: dict[str, int | None] = {}
    for name, process in reversed(list(processes.running.items())):
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            codes[name] = process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            codes[name] = None  # did not drain and stop on SIGTERM in time
    return codes


def _logs(processes: Processes) -> str:
    return "".join(
        f"\n--- {name}.log (last lines)\n" + "\n".join(processes.log(name).splitlines()[-15:])
        for name in processes.running
    )
