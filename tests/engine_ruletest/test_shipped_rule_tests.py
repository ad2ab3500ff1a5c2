"""The rules shipped in rules/ pass their own tests in rules/tests/, and every shipped alert is
tested both firing and staying quiet."""

from __future__ import annotations

import io
import subprocess
from collections import defaultdict
from pathlib import Path

import yaml

from controlplane.engine.rules import load_rule_paths
from controlplane.engine.ruletest import rules_test_command

RULES_DIR = Path(__file__).resolve().parents[2] / "rules"
TEST_FILES = sorted((RULES_DIR / "tests").glob("*.yaml"))


def test_every_shipped_rule_test_file_passes() -> None:
    out, err = io.StringIO(), io.StringIO()
    code = rules_test_command(TEST_FILES, stdout=out, stderr=err)
    assert (code, err.getvalue()) == (0, ""), out.getvalue()
    assert out.getvalue().count("  SUCCESS\n") == len(TEST_FILES)


def test_shipped_input_series_tests_pass_under_plain_promtool_too() -> None:
    promtool_files = [path for path in TEST_FILES if "input_events" not in path.read_text()]
    assert promtool_files  # platform.yaml's PromQL rules
    for path in promtool_files:
        result = subprocess.run(
            ["promtool", "test", "rules", str(path)], capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_each_shipped_rule_file_has_a_test_file() -> None:
    rule_files = {path.stem for path in RULES_DIR.glob("*.yaml")}
    assert {path.name.removesuffix(".test.yaml") for path in TEST_FILES} == rule_files


def test_every_shipped_alert_is_tested_firing_and_quiet() -> None:
    outcomes: dict[str, set[str]] = defaultdict(set)
    for path in TEST_FILES:
        for test in yaml.safe_load(path.read_text())["tests"]:
            for case in test.get("alert_rule_test", []):
                outcomes[case["alertname"]].add("fires" if case.get("exp_alerts") else "quiet")
    alerts = {
        rule.name for group in load_rule_paths([RULES_DIR]).groups for rule in group.alert_rules
    }
    assert alerts  # the shipped rules loaded
    assert {name: outcomes[name] for name in alerts} == {
        name: {"fires", "quiet"} for name in alerts
    }


def test_every_shipped_stream_recording_rule_has_a_recorded_test() -> None:
    tested = {
        case["record"]
        for path in TEST_FILES
        for test in yaml.safe_load(path.read_text())["tests"]
        for case in test.get("recorded_test", [])
        if case.get("exp_samples")
    }
    records = {
        rule.name
        for group in load_rule_paths([RULES_DIR]).groups
        for rule in group.recording_rules
        if not rule.is_promql
    }
    assert records  # smsctl:receipts_delivery_rate:5m
    assert records <= tested
