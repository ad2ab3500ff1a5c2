"""`smsctl run`: starts on embedded defaults, and SIGTERM drains what was accepted into storage."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson

from controlplane.storage import Database, ReceiptArchive

ADMIN = "cli-test-admin-token-0123"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def receipts_body(count: int) -> bytes:
    lines = (
        orjson.dumps(
            {
                "message_id": f"cli-{n}",
                "supplier": "aliyun",
                "carrier": "cmcc",
                "message_class": "notification",
                "status": "DELIVERED",
                "submitted_at": "2026-11-25T08:00:00Z",
                "reported_at": "2026-11-25T08:00:03Z",
            }
        )
        for n in range(count)
    )
    return b"\n".join(lines)


def start(tmp_path: Path, port: int, extra_env: dict[str, str]) -> subprocess.Popen[str]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("SMSCTL_")}
    env = {**inherited, "SMSCTL_DATABASE__URL": f"sqlite:///{tmp_path}/cp.db", **extra_env}
    return subprocess.Popen(
        [sys.executable, "-m", "smsctl.cli", "run", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_healthy(port: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("smsctl run did not become healthy")


def test_sigterm_drains_accepted_receipts_into_storage(tmp_path: Path) -> None:
    port = free_port()
    process = start(tmp_path, port, {"SMSCTL_ADMIN_TOKEN": ADMIN})
    try:
        wait_healthy(port, process)
        answer = httpx.post(
            f"http://127.0.0.1:{port}/v1/events/receipts",
            content=receipts_body(20_000),
            headers={"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/x-ndjson"},
            timeout=30,
        )
        assert answer.status_code == 202
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    # uvicorn re-raises the signal once shut down, so a clean stop may end "killed by SIGTERM".
    assert process.returncode in (0, -signal.SIGTERM), output
    assert "stopping: draining the bus to storage" in output
    assert 'msg="stopped"' in output
    assert ReceiptArchive(Database(f"sqlite:///{tmp_path}/cp.db")).count() == 20_000


def test_without_a_configured_admin_token_one_is_generated_and_printed(tmp_path: Path) -> None:
    port = free_port()
    process = start(tmp_path, port, {})
    try:
        wait_healthy(port, process)
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    token_line = next(line for line in output.splitlines() if line.startswith("admin token"))
    token = token_line.rsplit(" ", 1)[1]
    assert len(token) >= 24
    assert output.count(token) == 1  # shown once, never logged


def test_a_bad_settings_file_stops_start_up_naming_file_and_line(tmp_path: Path) -> None:
    config = tmp_path / "smsctl.yaml"
    config.write_text("server:\n  port: 8080\n  hots: 0.0.0.0\n")
    result = subprocess.run(
        [sys.executable, "-m", "smsctl.cli", "--config", str(config), "run"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert f"{config}:3: server.hots: unknown key" in result.stderr
