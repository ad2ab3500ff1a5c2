"""Ingest throughput: NDJSON receipts over HTTP into the bus, one uvicorn worker."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid

import httpx
import orjson

from bench.table import Row, median_row
from smsplatform.bus import JetStreamBus

TOKEN = "bench-ingest-token-0123456789"
BATCH = 5000
CONCURRENCY = 4
SECONDS_PER_RUN = 3.0
RUNS = 5


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _body(batch: int) -> bytes:
    return b"\n".join(
        orjson.dumps(
            {
                "message_id": f"bench-{uuid.uuid4().hex}",
                "supplier": ["aliyun", "tencent", "twilio", "cmpp"][n % 4],
                "carrier": ["cmcc", "cucc", "ctcc"][n % 3],
                "message_class": "notification",
                "status": "DELIVERED" if n % 10 else "FAILED",
                "raw_status": "DELIVRD",
                "error_code": None if n % 10 else "UNDELIV",
                "submitted_at": "2026-11-25T08:00:00.123+08:00",
                "reported_at": "2026-11-25T08:00:03.456+08:00",
            }
        )
        for n in range(batch)
    )


def _start(port: int, env: dict[str, str], workdir: str) -> subprocess.Popen[bytes]:
    full_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SMSCTL_")},
        **env,
        "SMSCTL_ADMIN_TOKEN": TOKEN,
        "SMSCTL_LOG_LEVEL": "WARNING",
        "SMSCTL_DATABASE__URL": f"sqlite:///{workdir}/bench.db",
        "SMSCTL_INGEST__PERSIST_ENABLED": "false",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "smsctl.cli", "run", "--port", str(port)],
        env=full_env,
        cwd=workdir,
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("smsctl did not start for the ingest bench")


async def _drive(port: int, body: bytes, seconds: float) -> float:
    """Receipts accepted per second over `seconds`, with CONCURRENCY clients posting in a loop."""
    url = f"http://127.0.0.1:{port}/v1/events/receipts"
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/x-ndjson"}
    accepted = 0
    async with httpx.AsyncClient(timeout=60) as client:
        deadline = time.perf_counter() + seconds
        started = time.perf_counter()

        async def worker() -> None:
            nonlocal accepted
            while time.perf_counter() < deadline:
                answer = await client.post(url, content=body, headers=headers)
                answer.raise_for_status()
                accepted += answer.json()["accepted"]

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        return accepted / (time.perf_counter() - started)


def _measure(setup: str, env: dict[str, str], body: bytes) -> Row:
    with tempfile.TemporaryDirectory() as workdir:
        port = _free_port()
        process = _start(port, env, workdir)
        try:
            asyncio.run(_drive(port, body, 1.0))  # warm-up
            runs = [asyncio.run(_drive(port, body, SECONDS_PER_RUN)) for _ in range(RUNS)]
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
    return median_row("ingest NDJSON over HTTP → bus", setup, runs, "receipts/s", "≥ 50,000")


async def _delete_stream(stream: str) -> None:
    bus = JetStreamBus("nats://127.0.0.1:4222", stream=stream, namespace=stream.lower())
    await bus.start()
    await bus.delete_stream()
    await bus.close()


def table_rows() -> list[Row]:
    body = _body(BATCH)
    rows = [_measure("memory bus, 1 worker", {"SMSCTL_BUS__BACKEND": "memory"}, body)]
    stream = f"BENCH{uuid.uuid4().hex[:8]}"
    jetstream = {
        "SMSCTL_BUS__BACKEND": "jetstream",
        "SMSCTL_BUS__STREAM": stream,
        "SMSCTL_BUS__NAMESPACE": stream.lower(),
    }
    try:
        rows.append(_measure("JetStream, 1 worker", jetstream, body))
    finally:
        asyncio.run(_delete_stream(stream))
    return rows
