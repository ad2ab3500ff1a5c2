"""`promtool test rules` on smsctl rule files, and on plain Prometheus files exactly as promtool."""

from __future__ import annotations

import subprocess
from pathlib import Path
from textwrap import dedent

import pytest
import yaml

from controlplane.engine.promql import PromtoolError, prometheus_rule_file, run_promtool_tests
from controlplane.engine.promql.promformat import SMSCTL_RULE_KEYS

SMSCTL_RULES = dedent(
    """\
    groups:
      - name: supplier-delivery
        interval: 5s
        rules:
          - alert: SupplierDeliveryRateLow
            source: receipts
            filter: message_class != "marketing"
            by: [supplier, carrier]
            window: 2m
            when: delivery_rate < 0.90 && total >= 200
            for: 30s
            on_no_data: keep
            labels: {severity: critical}
            annotations:
              summary: "{{ labels.supplier }} to {{ labels.carrier }}: {{ value | percent }}"
          - alert: SendApiErrors
            source: prometheus
            expr: sum(rate(smsctl_api_requests_total{code=~"5.."}[1m])) > 1
            for: 1m
            labels: {severity: page}
            annotations:
              summary: "send API 5xx at {{ $value | humanize }}/s"
      - name: bus
        labels: {team: sms}
        rules:
          - record: smsctl:bus_pending:max
            expr: max(smsctl_bus_pending)
          - record: supplier:delivery_rate
            source: receipts
            by: [supplier]
            window: 5m
            value: delivery_rate
          - alert: BusLagHigh
            expr: smsctl:bus_pending:max > 1000
            for: 2m
            keep_firing_for: 1m
    """
)

SMSCTL_TESTS = dedent(
    """\
    rule_files: [rules/smsctl.yaml]
    evaluation_interval: 15s
    tests:
      - interval: 15s
        input_series:
          - series: 'smsctl_api_requests_total{code="500", route="/send"}'
            values: '0+120x20'
          - series: 'smsctl_bus_pending{subject="sms.receipts"}'
            values: '10 2000x10 0x10'
        alert_rule_test:
          - eval_time: 30s
            alertname: SendApiErrors
            exp_alerts: []
          - eval_time: 2m
            alertname: SendApiErrors
            exp_alerts:
              - exp_labels: {severity: page}
                exp_annotations: {summary: "send API 5xx at 8/s"}
          - eval_time: 3m
            alertname: BusLagHigh
            exp_alerts: [{exp_labels: {team: sms}}]
          - eval_time: 3m30s
            alertname: BusLagHigh
            exp_alerts: [{exp_labels: {team: sms}}]
        promql_expr_test:  # 2e3 is a float to promtool's YAML parser, a string to PyYAML's
          - expr: smsctl:bus_pending:max
            eval_time: 1m
            exp_samples: [{labels: 'smsctl:bus_pending:max{team="sms"}', value: 2e3}]
    """
)

PLAIN_RULES = dedent(
    """\
    groups:
      - name: node
        rules:
          - alert: InstanceDown
            expr: up == 0
            for: 1m
            labels: {severity: page}
            annotations:
              summary: "{{ $labels.instance }} of {{ $labels.job }} is down"
    """
)

PLAIN_TESTS = dedent(
    """\
    rule_files: [node.yaml]
    evaluation_interval: 30s
    tests:
      - interval: 30s
        input_series:
          - series: 'up{job="node", instance="web-1:9100"}'
            values: '1 1 0 0 0 0'
        alert_rule_test:
          - eval_time: 2m30s
            alertname: InstanceDown
            exp_alerts:
              - exp_labels: {severity: page, job: node, instance: "web-1:9100"}
                exp_annotations: {summary: "web-1:9100 of node is down"}
    """
)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def promtool_itself(test_file: Path) -> tuple[bool, str]:
    completed = subprocess.run(
        ["promtool", "test", "rules", str(test_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    return completed.returncode == 0, completed.stdout


def test_a_promtool_test_of_an_smsctl_rule_file_with_stream_and_promql_rules_passes(
    tmp_path: Path,
) -> None:
    write(tmp_path / "rules" / "smsctl.yaml", SMSCTL_RULES)
    test_file = write(tmp_path / "smsctl_test.yaml", SMSCTL_TESTS)

    result = run_promtool_tests(test_file)

    assert result.passed, result.output
    assert "SUCCESS" in result.output


def test_a_wrong_expectation_fails_with_promtool_diff_naming_the_users_file(
    tmp_path: Path,
) -> None:
    write(tmp_path / "rules" / "smsctl.yaml", SMSCTL_RULES)
    wrong = SMSCTL_TESTS.replace("exp_labels: {severity: page}", "exp_labels: {severity: low}")
    test_file = write(tmp_path / "smsctl_test.yaml", wrong)

    result = run_promtool_tests(test_file)

    assert not result.passed
    assert "FAILED" in result.output
    assert "alertname: SendApiErrors, time: 2m" in result.output
    assert (
        'exp:[\n            0:\n              Labels:{alertname="SendApiErrors", severity="low"}'
        in (result.output)
    )
    assert (
        'got:[\n            0:\n              Labels:{alertname="SendApiErrors", severity="page"}'
        in (result.output)
    )
    assert str(test_file) in result.output
    assert "smsctl-promtool-" not in result.output  # our temporary copies stay out of sight


def test_a_plain_prometheus_test_and_rule_file_run_exactly_as_promtool_runs_them(
    tmp_path: Path,
) -> None:
    write(tmp_path / "node.yaml", PLAIN_RULES)
    test_file = write(tmp_path / "node_test.yaml", PLAIN_TESTS)

    result = run_promtool_tests(test_file)

    assert result.passed, result.output
    assert (result.passed, result.output) == promtool_itself(test_file)


def test_a_failing_plain_test_fails_exactly_as_under_promtool(tmp_path: Path) -> None:
    write(tmp_path / "node.yaml", PLAIN_RULES)
    test_file = write(tmp_path / "node_test.yaml", PLAIN_TESTS.replace("2m30s", "1m30s"))

    result = run_promtool_tests(test_file)

    assert not result.passed
    assert (result.passed, result.output) == promtool_itself(test_file)


def test_rule_files_are_found_by_glob_relative_to_the_test_file(tmp_path: Path) -> None:
    write(tmp_path / "rules" / "smsctl.yaml", SMSCTL_RULES)
    write(tmp_path / "rules" / "node.yaml", PLAIN_RULES)
    globbed = SMSCTL_TESTS.replace("rule_files: [rules/smsctl.yaml]", "rule_files: [rules/*.yaml]")
    test_file = write(tmp_path / "tests" / "all_test.yaml", globbed.replace("rules/", "../rules/"))

    result = run_promtool_tests(test_file)

    assert result.passed, result.output


def test_a_promql_syntax_error_is_reported_at_the_users_file_line_and_column(
    tmp_path: Path,
) -> None:
    rules = write(
        tmp_path / "rules" / "smsctl.yaml",
        SMSCTL_RULES.replace("expr: max(smsctl_bus_pending)", "expr: max(smsctl_bus_pending"),
    )
    test_file = write(tmp_path / "smsctl_test.yaml", SMSCTL_TESTS)
    line = SMSCTL_RULES.splitlines().index("        expr: max(smsctl_bus_pending)") + 1

    result = run_promtool_tests(test_file)

    assert not result.passed
    assert f'{rules}: {line}:15: group "bus", rule 1, "smsctl:bus_pending:max"' in (result.output)
    assert "unclosed left parenthesis" in result.output


def test_an_unknown_key_on_a_promql_rule_is_reported_at_the_users_line(tmp_path: Path) -> None:
    typo = SMSCTL_RULES.replace("        for: 1m\n", "        for: 1m\n        severty: page\n")
    write(tmp_path / "rules" / "smsctl.yaml", typo)
    test_file = write(tmp_path / "smsctl_test.yaml", SMSCTL_TESTS)
    line = typo.splitlines().index("        severty: page") + 1

    result = run_promtool_tests(test_file)

    assert not result.passed
    assert f"line {line}: field severty not found in type rulefmt.RuleNode" in result.output


def test_the_prometheus_copy_keeps_only_promql_rules_as_written_without_smsctl_keys() -> None:
    copy = prometheus_rule_file(SMSCTL_RULES)

    assert copy is not None
    assert yaml.safe_load(copy.text) == {
        "groups": [
            {
                "name": "supplier-delivery",
                "interval": "5s",
                "rules": [
                    {
                        "alert": "SendApiErrors",
                        "expr": 'sum(rate(smsctl_api_requests_total{code=~"5.."}[1m])) > 1',
                        "for": "1m",
                        "labels": {"severity": "page"},
                        "annotations": {"summary": "send API 5xx at {{ $value | humanize }}/s"},
                    }
                ],
            },
            {
                "name": "bus",
                "rules": [
                    {
                        "record": "smsctl:bus_pending:max",
                        "expr": "max(smsctl_bus_pending)",
                        "labels": {"team": "sms"},
                    },
                    {
                        "alert": "BusLagHigh",
                        "expr": "smsctl:bus_pending:max > 1000",
                        "for": "2m",
                        "keep_firing_for": "1m",
                        "labels": {"team": "sms"},
                    },
                ],
            },
        ]
    }
    assert '      summary: "send API 5xx at {{ $value | humanize }}/s"' in copy.text


def test_a_plain_prometheus_rule_file_needs_no_copy() -> None:
    assert prometheus_rule_file(PLAIN_RULES) is None


def test_a_missing_promtool_is_reported_with_how_to_install_it(tmp_path: Path) -> None:
    test_file = write(tmp_path / "node_test.yaml", PLAIN_TESTS)
    with pytest.raises(PromtoolError, match="apt-get install"):
        run_promtool_tests(test_file, promtool="no-such-promtool")


def test_every_key_the_rule_loader_adds_to_prometheus_format_is_stripped() -> None:
    from controlplane.engine.rules.rule_parser import (
        ALERT_KEYS,
        PROMETHEUS_ALERT_KEYS,
        RECORD_KEYS,
    )

    smsctl_only = (ALERT_KEYS | RECORD_KEYS) - PROMETHEUS_ALERT_KEYS - {"record"}
    assert smsctl_only <= SMSCTL_RULE_KEYS
