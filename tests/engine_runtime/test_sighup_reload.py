"""`smsctl run` re-reads its rule files on SIGHUP."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx
from smsctl_process import HEADERS, smsctl_run
from test_cli_run import free_port

RULE_FILE = """
groups:
  - name: {name}
    rules:
      - alert: {name}DeliveryLow
        source: receipts
        by: [supplier]
        window: 1m
        when: delivery_rate < 0.9 && total >= 50
"""


def rule_names(port: int) -> list[str]:
    answer = httpx.get(f"http://127.0.0.1:{port}/v1/rules", headers=HEADERS, timeout=5)
    assert answer.status_code == 200
    return sorted(rule["rule"] for rule in answer.json()["rules"])


def test_sighup_loads_a_rule_file_added_to_the_rules_folder(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "aliyun.yaml").write_text(RULE_FILE.format(name="Aliyun"))
    port = free_port()
    only_the_signal_reloads = {"SMSCTL_RULES__PATHS": f"[{rules}]", "SMSCTL_RULES__WATCH": "false"}
    with smsctl_run(tmp_path, port, only_the_signal_reloads) as process:
        assert rule_names(port) == ["Aliyun/AliyunDeliveryLow"]

        (rules / "tencent.yaml").write_text(RULE_FILE.format(name="Tencent"))
        process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 5
        while (names := rule_names(port)) != [
            "Aliyun/AliyunDeliveryLow",
            "Tencent/TencentDeliveryLow",
        ]:
            assert time.monotonic() < deadline, names
            time.sleep(0.05)
        assert process.poll() is None  # reloaded, not hung up
