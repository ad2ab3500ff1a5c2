"""`smsctl run` in a subprocess for one test, started with core's harness and always stopped."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from test_cli_run import ADMIN, start, wait_healthy

HEADERS = {"Authorization": f"Bearer {ADMIN}"}


@contextmanager
def smsctl_run(
    tmp_path: Path, port: int, env: Mapping[str, str]
) -> Iterator[subprocess.Popen[str]]:
    """A healthy `smsctl run` on 127.0.0.1:`port` (SQLite in `tmp_path`, the ADMIN token)."""
    process = start(tmp_path, port, {"SMSCTL_ADMIN_TOKEN": ADMIN, **env})
    try:
        wait_healthy(port, process)
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.communicate(timeout=30)  # reads its output too, so it never blocks on a pipe
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
