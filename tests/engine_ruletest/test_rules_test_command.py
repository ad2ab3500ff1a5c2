"""`smsctl rules test`: promtool's test format, stream tests with event timelines run in-process,
input_series tests run by promtool, SUCCESS/FAILED as promtool prints them, a diff on failure,
exit 0 (passed), 1 (failed) or 2 (bad test file, problems as file:line)."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path
from textwrap import dedent

import pytest

from controlplane.engine.ruletest import rules_test_command

RULES = dedent(
    """\
    groups:
      - name: delivery
        interval: 15s
        rules:
          - alert: DeliveryLow
            source: receipts
            by: [supplier]
            window: 1m
            when: delivery_rate < 0.9 && total >= 10
            for: 30s
            labels: {severity: critical}
            annotations:
              summary: "{{ labels.supplier }}: {{ value | percent }}"
          - alert: ApiErrors
            expr: sum(rate(http_requests_total{code="500"}[1m])) > 1
            labels: {severity: page}
            annotations:
              summary: "{{ $value }} errors/s"
    """
)

# 10 receipts a second from supplier-a, 60% delivered: low from the first evaluation at 0s
# (10 receipts), firing from 30s; supplier-b is healthy.
STREAM_TEST = dedent(
    """\
    - name: low delivery fires
      input_events:
        receipts:
          - {at: 0s..2m, every: 1s, count: 10, status: {DELIVERED: 0.6, FAILED: 0.4}}
          - {at: 0s..2m, every: 1s, count: 10, supplier: supplier-b}
      alert_rule_test:
        - eval_time: 15s
          alertname: DeliveryLow
        - eval_time: 1m
          alertname: DeliveryLow
          exp_alerts:
            - exp_labels: {supplier: supplier-a, severity: critical}
              exp_annotations: {summary: "supplier-a: 60.00%"}
    """
)

PROMTOOL_TEST = dedent(
    """\
    - name: api errors
      interval: 15s
      input_series:
        - series: 'http_requests_total{code="500"}'
          values: '0+60x10'
      alert_rule_test:
        - eval_time: 1m
          alertname: ApiErrors
          exp_alerts:
            - exp_labels: {severity: page}
              exp_annotations: {summary: "4 errors/s"}
    """
)


def write_tests(directory: Path, tests: str, name: str = "tests.yaml") -> Path:
    (directory / "rules.yaml").write_text(RULES)
    path = directory / name
    body = "\n".join(f"  {line}" if line else "" for line in tests.splitlines())
    path.write_text(f"rule_files: [rules.yaml]\nevaluation_interval: 15s\ntests:\n{body}\n")
    return path


def run(paths: list[Path]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = rules_test_command(paths, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_passing_stream_test_prints_success_and_exits_0(tmp_path: Path) -> None:
    path = write_tests(tmp_path, STREAM_TEST)
    assert run([path]) == (0, f"Unit Testing:  {path}\n  SUCCESS\n\n", "")


def test_failing_stream_test_shows_expected_and_got_per_label_and_annotation(
    tmp_path: Path,
) -> None:
    wrong = STREAM_TEST.replace("supplier: supplier-a, severity: critical", "supplier: supplier-a")
    wrong = wrong.replace('summary: "supplier-a: 60.00%"', 'summary: "supplier-a: 50.00%"')
    path = write_tests(tmp_path, wrong)
    code, out, err = run([path])
    assert (code, err) == (1, "")
    assert out == (
        f"Unit Testing:  {path}\n"
        "  FAILED:\n"
        "    name: low delivery fires,\n"
        "    alertname: DeliveryLow, time: 1m,\n"
        "        expected 1 firing alert, got 1; - expected, + got:\n"
        "           alert differs:\n"
        "             labels:\n"
        '               alertname="DeliveryLow"\n'
        '        +      severity="critical"\n'
        '               supplier="supplier-a"\n'
        "             annotations:\n"
        '        -      summary="supplier-a: 50.00%"\n'
        '        +      summary="supplier-a: 60.00%"\n'
        "\n\n"
    )


def test_missing_and_unexpected_alerts_are_shown_whole(tmp_path: Path) -> None:
    wrong = STREAM_TEST.replace("eval_time: 15s\n", "eval_time: 15s\n      exp_alerts:\n")
    wrong = wrong.replace(
        "alertname: DeliveryLow\n    - eval_time: 1m",
        "alertname: DeliveryLow\n      exp_alerts: [{exp_labels: {supplier: supplier-b}}]\n"
        "    - eval_time: 1m",
    )
    path = write_tests(tmp_path, wrong)
    code, out, _ = run([path])
    assert code == 1
    assert (
        "    alertname: DeliveryLow, time: 15s,\n"
        "        expected 1 firing alert, got 0; - expected, + got:\n"
        "        -  alert expected, not firing:\n"
        "        -    labels:\n"
        '        -      alertname="DeliveryLow"\n'
        '        -      supplier="supplier-b"\n'
    ) in out


def test_an_alert_pending_at_eval_time_is_not_listed_as_promtool_does(tmp_path: Path) -> None:
    # Low from 0s with `for: 30s`: pending at 15s (the test above expects nothing then and
    # passes); expecting it to fire at 15s fails and shows it is not firing.
    expect_early = STREAM_TEST.replace(
        "eval_time: 15s\n      alertname: DeliveryLow\n",
        "eval_time: 15s\n      alertname: DeliveryLow\n"
        "      exp_alerts:\n"
        "        - exp_labels: {supplier: supplier-a, severity: critical}\n"
        '          exp_annotations: {summary: "supplier-a: 60.00%"}\n',
    )
    code, out, _ = run([write_tests(tmp_path, expect_early)])
    assert code == 1
    assert "alertname: DeliveryLow, time: 15s,\n        expected 1 firing alert, got 0;" in out
    assert "time: 1m" not in out  # firing by then, as expected


def test_eval_time_between_evaluations_is_judged_on_the_one_before(tmp_path: Path) -> None:
    # Firing from 30s; 29s is judged on the evaluation at 15s, when it was pending.
    quiet_at_29s = STREAM_TEST.replace("eval_time: 15s", "eval_time: 29s")
    assert run([write_tests(tmp_path, quiet_at_29s)])[0] == 0


@pytest.mark.parametrize("summary", ["4 errors/s", "5 errors/s"])
def test_promtool_only_file_passes_or_fails_and_prints_as_promtool(
    tmp_path: Path, summary: str
) -> None:
    path = write_tests(tmp_path, PROMTOOL_TEST.replace("4 errors/s", summary))
    (tmp_path / "rules.yaml").write_text(
        "groups:\n  - name: api\n    rules:\n      - alert: ApiErrors\n"
        '        expr: sum(rate(http_requests_total{code="500"}[1m])) > 1\n'
        "        labels: {severity: page}\n"
        '        annotations: {summary: "{{ $value }} errors/s"}\n'
    )
    promtool = subprocess.run(
        ["promtool", "test", "rules", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    code, out, _ = run([path])
    assert code == promtool.returncode
    assert out == promtool.stdout
    assert code == (0 if summary == "4 errors/s" else 1)


def test_mixed_file_runs_stream_tests_here_and_input_series_tests_in_promtool(
    tmp_path: Path,
) -> None:
    path = write_tests(tmp_path, STREAM_TEST + PROMTOOL_TEST)
    assert run([path]) == (0, f"Unit Testing:  {path}\n  SUCCESS\n\n", "")


def test_mixed_file_reports_promtool_failures_under_one_heading(tmp_path: Path) -> None:
    path = write_tests(tmp_path, STREAM_TEST + PROMTOOL_TEST.replace("4 errors/s", "9 errors/s"))
    code, out, _ = run([path])
    assert code == 1
    assert out.count("Unit Testing:") == 1
    assert out.startswith(f"Unit Testing:  {path}\n  FAILED:\n    name: api errors,\n")
    assert 'Annotations:{summary="9 errors/s"}' in out  # promtool's expectation
    assert 'Annotations:{summary="4 errors/s"}' in out  # and what it got
    assert "SUCCESS" not in out
    assert str(tmp_path / "rules.yaml") not in out.replace(str(path), "")


def test_bad_test_file_reports_every_problem_with_file_and_line_and_exits_2(
    tmp_path: Path,
) -> None:
    path = write_tests(
        tmp_path,
        dedent(
            """\
            - name: broken
              input_events:
                receipts:
                  - {at: 0s..1m, every: 1 second, colour: red}
                  - {at: 5s, status: LOST}
                  - {at: 1m..30s, latency: {2s: 0.5, 3: 0.5}}
                smoke_signals:
                  - {at: 0s}
              alert_rule_test:
                - eval_time: 1m
                  exp_alerts: [{exp_annotation: {}}]
            """
        ),
    )
    code, out, err = run([path])
    assert code == 2
    assert out == f"Unit Testing:  {path}\n  FAILED: the test file has 8 problem(s)\n\n"
    receipts = "tests.0.input_events.receipts"
    assert err.splitlines() == [
        f"{path}:7: {receipts}.0.colour: unknown field of receipts events (known: at, carrier, "
        "count, error_code, every, latency, message_class, message_id, raw_status, status, "
        "supplier, weight)",
        f"{path}:7: {receipts}.0.every: '1 second' is not a duration: use whole numbers with "
        "units y, w, d, h, m, s, ms, largest first (e.g. 1h30m, 30s, 500ms)",
        f"{path}:8: {receipts}.1.status: Invalid enum value 'LOST' - at `$.status`",
        f"{path}:9: {receipts}.2.at: '1m..30s': a span is `start..end` with end after start",
        f"{path}:9: {receipts}.2.latency: 3 has no unit: write 3s, 3m or 3h",
        f"{path}:10: tests.0.input_events.smoke_signals: unknown key in input_events (events "
        "by source) (known: probes, receipts, submits, supplier_logs)",
        f"{path}:13: tests.0.alert_rule_test.0: `alertname` is required",
        f"{path}:14: tests.0.alert_rule_test.0.exp_alerts.0.exp_annotation: unknown key in an "
        "expected alert (known: exp_annotations, exp_labels)",
    ]


def test_alert_test_naming_no_stream_rule_is_a_bad_test_file(tmp_path: Path) -> None:
    typo = STREAM_TEST.replace(
        "eval_time: 1m\n      alertname: DeliveryLow", "eval_time: 1m\n      alertname: DelivryLow"
    )
    path = write_tests(
        tmp_path,
        typo.replace(
            "eval_time: 15s\n      alertname: DeliveryLow",
            "eval_time: 15s\n      alertname: ApiErrors",
        ),
    )
    code, _, err = run([path])
    assert code == 2
    assert err.splitlines() == [
        f"{path}:11: alertname: ApiErrors is a PromQL rule: test it with input_series (promtool)",
        f"{path}:13: alertname: no alert rule named 'DelivryLow' in rule_files",
    ]


def test_yaml_syntax_error_is_a_bad_test_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("tests:\n  - name: [unclosed\n")
    code, _, err = run([path])
    assert code == 2
    assert err.startswith(f"{path}:3: invalid YAML")


def test_broken_rule_file_fails_the_tests_with_its_problems(tmp_path: Path) -> None:
    path = write_tests(tmp_path, STREAM_TEST)
    (tmp_path / "rules.yaml").write_text(RULES.replace("window: 1m", "window: 1 minute"))
    code, out, _ = run([path])
    assert code == 1
    assert f"  FAILED:\n    {tmp_path / 'rules.yaml'}:8: groups.0.rules.0.window:" in out


def test_worst_outcome_of_several_files_is_the_exit_status(tmp_path: Path) -> None:
    good = write_tests(tmp_path, STREAM_TEST, "good.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("rule_files: [rules.yaml]\ntests:\n  - input_events: {receipts: [{}]}\n")
    code, out, _ = run([good, bad])
    assert code == 2
    assert f"Unit Testing:  {good}\n  SUCCESS\n" in out


def test_a_directory_stands_for_its_test_files_and_a_missing_path_is_an_error(
    tmp_path: Path,
) -> None:
    write_tests(tmp_path, STREAM_TEST)
    (tmp_path / "rules.yaml").unlink()
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    (rules_dir / "rules.yaml").write_text(RULES)
    tests = (tmp_path / "tests.yaml").read_text().replace("[rules.yaml]", "[rules/rules.yaml]")
    (tmp_path / "tests.yaml").write_text(tests)
    assert run([tmp_path]) == (0, f"Unit Testing:  {tmp_path / 'tests.yaml'}\n  SUCCESS\n\n", "")
    assert run([tmp_path / "nowhere.yaml"]) == (
        2,
        "",
        f"{tmp_path / 'nowhere.yaml'}: no such file or directory\n",
    )


def test_a_rule_that_fails_to_evaluate_fails_the_test_with_its_error(tmp_path: Path) -> None:
    path = write_tests(tmp_path, STREAM_TEST)
    (tmp_path / "rules.yaml").write_text(RULES.replace("delivery_rate < 0.9", "total / 0 > 1"))
    code, out, _ = run([path])
    assert code == 1
    assert (
        "  FAILED:\n    name: low delivery fires,\n    rule: delivery/DeliveryLow, time: 0s, err: "
        "CEL 'total / 0 > 1 && total >= 10' failed: ZeroDivisionError"
    ) in out
