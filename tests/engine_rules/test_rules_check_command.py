"""`smsctl rules check`: problems on stderr as file:line: key: message, a summary on stdout,
exit 0 when every file is valid and 1 otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from controlplane.engine.rules import rules_check_command

RULES_DIR = Path(__file__).resolve().parents[2] / "rules"
GOOD = "groups:\n  - name: g\n    rules:\n      - alert: Up\n        expr: up == 0\n"
BAD = (
    "groups:\n"
    "  - name: g\n"
    "    rules:\n"
    "      - alert: Low\n"
    "        source: receipts\n"
    "        window: 2 minutes\n"
    "        when: delivery_rate <\n"
)


def test_shipped_rules_pass(capsys: pytest.CaptureFixture[str]) -> None:
    assert rules_check_command([RULES_DIR, RULES_DIR / "examples"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out.splitlines()[-1].startswith("SUCCESS: ")


def test_valid_files_exit_0_with_a_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.yaml").write_text(GOOD)
    assert rules_check_command([tmp_path]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out.splitlines() == [
        f"{tmp_path / 'a.yaml'}: ok, 1 group(s), 1 rule(s)",
        "SUCCESS: 1 file(s), 1 group(s), 1 rule(s)",
    ]


def test_problems_go_to_stderr_as_file_line_key_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good, bad = tmp_path / "a.yaml", tmp_path / "b.yaml"
    good.write_text(GOOD)
    bad.write_text(BAD)
    assert rules_check_command([good, bad]) == 1
    captured = capsys.readouterr()
    errors = captured.err.splitlines()
    assert errors[0] == (
        f"{bad}:6: groups.0.rules.0.window: '2 minutes' is not a duration: use whole numbers "
        "with units y, w, d, h, m, s, ms, largest first (e.g. 1h30m, 30s, 500ms)"
    )
    assert errors[1].startswith(f"{bad}:7: groups.0.rules.0.when: invalid CEL at line 1, column")
    assert captured.out.splitlines() == [
        f"{good}: ok, 1 group(s), 1 rule(s)",
        f"{bad}: FAILED, 2 problem(s)",
        "FAILED: 2 problem(s) in 1 of 2 file(s)",
    ]


def test_a_missing_path_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert rules_check_command([tmp_path / "nope.yaml"]) == 1
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [f"{tmp_path / 'nope.yaml'}: no such file or directory"]
    assert "FAILED" in captured.out


def test_a_directory_without_rule_files_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert rules_check_command([tmp_path]) == 1
    assert capsys.readouterr().err.splitlines() == [f"{tmp_path}: no *.yaml rule files here"]


def test_invalid_yaml_is_reported_with_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("groups:\n  - name: g\n    rules: [\n")
    assert rules_check_command([broken]) == 1
    assert capsys.readouterr().err.startswith(f"{broken}:4: invalid YAML")
