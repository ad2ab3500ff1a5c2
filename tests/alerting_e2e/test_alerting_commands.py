"""The alerting CLI: a test notification reaches every channel of a receiver."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from testbench.fakes.server import running_fake
from testbench.fakes.webhook import WebhookReceiverFake


async def test_send_test_reaches_every_channel_of_the_receiver(tmp_path: Path) -> None:
    first, second = WebhookReceiverFake(), WebhookReceiverFake()
    async with running_fake(first.app) as first_url, running_fake(second.app) as second_url:
        config = tmp_path / "alerting.yaml"
        config.write_text(
            "route:\n  receiver: team\n"
            "receivers:\n  - name: team\n    webhook_configs:\n"
            f"      - url: {first_url}/hook\n      - url: {second_url}/hook\n"
        )
        result = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "smsctl.cli", "alerting", "send-test",
             "--config", str(config), "team"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("webhook: delivered") == 2
    for fake in (first, second):
        [body] = fake.inbox.bodies()
        assert body["alerts"][0]["labels"]["alertname"] == "SmsctlTestNotification"


async def test_send_test_names_an_unknown_receiver(tmp_path: Path) -> None:
    config = tmp_path / "alerting.yaml"
    config.write_text("route:\n  receiver: team\nreceivers:\n  - name: team\n")
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "smsctl.cli", "alerting", "send-test", "--config",
         str(config), "nobody"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert "no receiver 'nobody'" in result.stderr
