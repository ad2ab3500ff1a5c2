"""The send tier as an operator runs it: one process per service, started with its CLI.

`python -m sendtier simulators|persist|receipts|dispatch|api --config sendtier.yaml` (what
`smsctl sendtier ...` runs), on JetStream and MariaDB: messages go in through the API and end
up stored with their receipts, and every process drains and exits 0 on SIGTERM.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from e2e_helpers import (
    assert_each_sent_once_with_its_receipt,
    count_settled,
    plan_arguments,
    platform_on,
    read_stored,
    send_batches,
    sendtier_processes,
    service_urls,
    simulator_urls,
    wait_until,
    write_settings,
)

from sendtier.storage import Database
from smsplatform.bus import JetStreamBus

MESSAGES = 200


async def test_services_started_as_processes_carry_messages_to_storage_and_stop_cleanly(
    mariadb_url: str, nats_url: str, unique_name: str, tmp_path: Path
) -> None:
    platform = platform_on(mariadb_url, nats_url, unique_name)
    config = write_settings(platform, tmp_path)
    commands = {
        "simulators": plan_arguments(tmp_path),
        "persist": [],
        "receipts": [],
        "dispatch": [],
        "api": [],
    }
    urls = {**simulator_urls(platform), **service_urls(platform)}
    database = Database(mariadb_url)
    try:
        with sendtier_processes(config, commands, urls):
            accepted = await send_batches(
                urls["api"], platform.tenant_tokens["demo"], MESSAGES, batch_size=50
            )
            await wait_until(
                lambda: count_settled(database) >= MESSAGES,
                timeout_s=60,
                what="every message stored with its receipt",
            )
        # Every process has exited 0 on SIGTERM here (sendtier_processes checks).
        stored = read_stored(database)
    finally:
        database.dispose()
        bus = JetStreamBus(nats_url, stream=unique_name, namespace=unique_name)
        await bus.start()
        await bus.delete_stream()
        await bus.close()

    assert_each_sent_once_with_its_receipt(stored, accepted)


def test_a_settings_file_with_a_mistake_is_refused_naming_file_line_and_field(
    tmp_path: Path,
) -> None:
    config = tmp_path / "sendtier.yaml"
    config.write_text("api:\n  host: 127.0.0.1\n  port: 99999\n", encoding="utf-8")
    answer = subprocess.run(
        [sys.executable, "-m", "sendtier", "api", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert answer.returncode == 2
    assert f"{config}:3: api.port:" in answer.stderr
