"""`smsctl rules test`: `recorded_test` checks the series a stream recording rule holds at an
eval_time, written as promtool's `exp_samples` (`labels` string, `value`); values compare as
promtool's --fuzzy-compare does, and a failure lists the series as `-` expected, `+` got."""

from __future__ import annotations

import io
import math
from pathlib import Path
from textwrap import dedent

from controlplane.engine.ruletest import rules_test_command

RULES = dedent(
    """\
    groups:
      - name: delivery
        rules:
          - record: smsctl:delivery_rate:1m
            source: receipts
            by: [supplier]
            window: 1m
            value: delivery_rate
          - record: api:errors:rate1m
            expr: sum(rate(http_requests_total{code="500"}[1m]))
    """
)

# 10 receipts a second each: supplier-a 60% delivered, supplier-b all delivered.
RECORDED_TEST = dedent(
    """\
    - name: delivery rate per supplier
      input_events:
        receipts:
          - {at: 0s..2m, every: 1s, count: 10, status: {DELIVERED: 0.6, FAILED: 0.4}}
          - {at: 0s..2m, every: 1s, count: 10, supplier: supplier-b}
      recorded_test:
        - eval_time: 1m
          record: smsctl:delivery_rate:1m
          exp_samples:
            - labels: 'smsctl:delivery_rate:1m{supplier="supplier-a"}'
              value: 0.6
            - labels: '{supplier="supplier-b"}'
              value: 1
    """
)


def write_tests(directory: Path, tests: str) -> Path:
    (directory / "rules.yaml").write_text(RULES)
    path = directory / "tests.yaml"
    body = "\n".join(f"  {line}" if line else "" for line in tests.splitlines())
    path.write_text(f"rule_files: [rules.yaml]\nevaluation_interval: 15s\ntests:\n{body}\n")
    return path


def run(path: Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = rules_test_command([path], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_recorded_series_as_expected_print_success_and_exit_0(tmp_path: Path) -> None:
    path = write_tests(tmp_path, RECORDED_TEST)
    assert run(path) == (0, f"Unit Testing:  {path}\n  SUCCESS\n\n", "")


def test_wrong_expected_value_fails_showing_expected_and_got_series(tmp_path: Path) -> None:
    path = write_tests(tmp_path, RECORDED_TEST.replace("value: 0.6", "value: 0.97"))
    code, out, err = run(path)
    assert (code, err) == (1, "")
    assert out == (
        f"Unit Testing:  {path}\n"
        "  FAILED:\n"
        "    name: delivery rate per supplier,\n"
        "    record: smsctl:delivery_rate:1m, time: 1m,\n"
        "        expected 2 samples, got 2 (1 as expected, not shown); - expected, + got:\n"
        '        -  smsctl:delivery_rate:1m{supplier="supplier-a"} 0.97\n'
        '        +  smsctl:delivery_rate:1m{supplier="supplier-a"} 0.6\n'
        "\n\n"
    )


def test_missing_and_unexpected_series_are_listed_alone(tmp_path: Path) -> None:
    wrong = RECORDED_TEST.replace('{supplier="supplier-b"}', '{supplier="supplier-c"}')
    code, out, _ = run(write_tests(tmp_path, wrong))
    assert code == 1
    assert (
        "        expected 2 samples, got 2 (1 as expected, not shown); - expected, + got:\n"
        '        +  smsctl:delivery_rate:1m{supplier="supplier-b"} 1.0\n'
        '        -  smsctl:delivery_rate:1m{supplier="supplier-c"} 1.0\n'
    ) in out


def test_values_one_float_step_apart_match_as_with_promtool_fuzzy_compare(
    tmp_path: Path,
) -> None:
    one_step = repr(math.nextafter(0.6, 1.0))
    two_steps = repr(math.nextafter(math.nextafter(0.6, 1.0), 1.0))
    near = write_tests(tmp_path, RECORDED_TEST.replace("value: 0.6", f"value: {one_step}"))
    assert run(near)[0] == 0
    far = write_tests(tmp_path, RECORDED_TEST.replace("value: 0.6", f"value: {two_steps}"))
    assert run(far)[0] == 1


def test_malformed_recorded_tests_are_reported_with_file_and_line(tmp_path: Path) -> None:
    broken = RECORDED_TEST + (
        "    - eval_time: 1m\n"
        "      record: smsctl:delivery_rate:1m\n"
        "      exp_samples:\n"
        "        - labels: 'smsctl:other{supplier=\"supplier-a\"}'\n"
        "          value: 0.6\n"
        "        - labels: '{supplier=~\"supplier-.*\"}'\n"
        "          value: 0.6\n"
        "        - labels: '{supplier=\"supplier-b\"}'\n"
        "        - {labels: '{supplier=\"supplier-a\"}', value: 1}\n"
        "        - {labels: '{supplier=\"supplier-a\"}', value: 1}\n"
    )
    path = write_tests(tmp_path, broken)
    code, out, err = run(path)
    assert (code, out) == (
        2,
        f"Unit Testing:  {path}\n  FAILED: the test file has 4 problem(s)\n\n",
    )
    samples = "tests.0.recorded_test.1.exp_samples"
    assert err.splitlines() == [
        f"{path}:20: {samples}.0.labels: names smsctl:other, not the test's record "
        "smsctl:delivery_rate:1m",
        f'{path}:22: {samples}.1.labels: expected label="value" at \'supplier=~"supplier-.*"\'',
        f"{path}:24: {samples}.2: `value` is required: a number",
        f"{path}:26: {samples}.4: the same labels as sample 3: one sample a series",
    ]


def test_record_naming_no_stream_recording_rule_is_a_bad_test_file(tmp_path: Path) -> None:
    nameless = RECORDED_TEST.replace("'smsctl:delivery_rate:1m{", "'{")
    promql = nameless.replace("record: smsctl:delivery_rate:1m", "record: api:errors:rate1m")
    typo = nameless.replace("record: smsctl:delivery_rate:1m", "record: smsctl:rate:1m")
    path = write_tests(tmp_path, promql + typo)
    code, _, err = run(path)
    assert code == 2
    assert err.splitlines() == [
        f"{path}:11: record: api:errors:rate1m is a PromQL rule: test it with input_series "
        "(promtool)",
        f"{path}:24: record: no recording rule named 'smsctl:rate:1m' in rule_files",
    ]


def test_promql_expr_test_in_a_stream_test_points_at_recorded_test(tmp_path: Path) -> None:
    path = write_tests(tmp_path, RECORDED_TEST.replace("recorded_test:", "promql_expr_test:"))
    code, _, err = run(path)
    assert code == 2
    assert err.splitlines()[0] == (
        f"{path}:9: tests.0.promql_expr_test: `promql_expr_test` belongs to promtool's "
        "input_series tests; a test has either input_series or input_events; test recording "
        "rules with recorded_test"
    )
