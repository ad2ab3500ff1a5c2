"""`smsctl rules test FILE...`: rule unit tests as promtool runs them, stream tests in-process.

Per file: a file without `input_events` is promtool's alone and goes to `promtool test rules`
unchanged, so it prints and passes exactly as there. Otherwise stream tests run in-process and
the file's input_series tests go to promtool through a copy; both report under one
`Unit Testing:` heading with promtool's SUCCESS / FAILED framing. Exit 0 when every test
passes, 1 when one fails (or promtool cannot run), 2 when a test file is malformed (its
problems go to stderr as file:line: key: message).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TextIO

from controlplane.engine.promql import PromtoolError, run_promtool_tests
from controlplane.engine.rules.loader import load_rule_paths, rule_files
from controlplane.engine.rules.model import AlertRule, RecordingRule, Rule, RuleSet
from controlplane.engine.ruletest.diff import failure_texts
from controlplane.engine.ruletest.loader import has_stream_tests, load_test_document
from controlplane.engine.ruletest.model import RuleTestFile
from controlplane.engine.ruletest.promtool_part import run_promtool_part
from controlplane.engine.ruletest.runner import (
    StreamTestResult,
    run_stream_test,
    stream_rules_only,
)
from smsplatform.config.yamlsource import ConfigError, ConfigProblem, load_yaml

PASSED, FAILED, BAD_TEST_FILE = 0, 1, 2


def rules_test_command(
    paths: list[Path], stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """Run every test file in `paths` (a directory: its *.yaml files); 0 all passed, 1 a test
    failed, 2 a test file is bad or missing."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    try:
        # Test files are named like rule files: a directory stands for its *.yaml files.
        files = rule_files(paths)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=err)
        return BAD_TEST_FILE
    worst = PASSED
    for path in files:
        worst = max(worst, _test_file(path, out, err))
    return worst


def _test_file(path: Path, out: TextIO, err: TextIO) -> int:
    try:
        document = load_yaml(path)
    except ConfigError as exc:
        return _bad_test_file(path, exc.problems, out, err)
    if not has_stream_tests(document):
        return _promtool_file(path, out, err)
    try:
        test_file = load_test_document(document, path)
    except ConfigError as exc:
        return _bad_test_file(path, exc.problems, out, err)
    try:
        rule_set = load_rule_paths(test_file.rule_files)
    except ConfigError as exc:
        return _report(path, ["\n".join(f"    {problem}" for problem in exc.problems)], out)
    problems = _unknown_rule_names(test_file, rule_set)
    if problems:
        return _bad_test_file(path, problems, out, err)
    failures = _stream_failures(test_file, stream_rules_only(rule_set))
    if test_file.promtool_tests:
        try:
            verdict = run_promtool_part(test_file, path.read_text(encoding="utf-8"))
        except PromtoolError as exc:
            print(f"{path}: {exc}", file=err)
            failures.append(f"    input_series tests not run: {exc}")
        else:
            if not verdict.passed:
                failures.append(verdict.errors or "    promtool failed without saying why")
    return _report(path, failures, out)


def _promtool_file(path: Path, out: TextIO, err: TextIO) -> int:
    try:
        result = run_promtool_tests(path)
    except PromtoolError as exc:
        print(f"{path}: {exc}", file=err)
        return FAILED
    out.write(result.output)
    return PASSED if result.passed else FAILED


def _stream_failures(test_file: RuleTestFile, rule_set: RuleSet) -> list[str]:
    async def run_all() -> list[StreamTestResult]:
        return [
            await run_stream_test(
                test, rule_set, test_file.evaluation_interval_ms, test_file.group_eval_order
            )
            for test in test_file.stream_tests
        ]

    return [text for result in asyncio.run(run_all()) for text in failure_texts(result)]


def _unknown_rule_names(test_file: RuleTestFile, rule_set: RuleSet) -> list[ConfigProblem]:
    """Cases of stream tests naming no stream rule of their kind (a typo would pass silently)."""
    rules = [rule for group in rule_set.groups for rule in group.rules]
    problems = []
    for test in test_file.stream_tests:
        named: list[tuple[int | None, str, str, type[Rule]]] = [
            (case.line, "alertname", case.alertname, AlertRule) for case in test.alert_tests
        ]
        named += [(case.line, "record", case.record, RecordingRule) for case in test.recorded_tests]
        for line, key, name, kind in named:
            same_name = [rule for rule in rules if isinstance(rule, kind) and rule.name == name]
            if any(not rule.is_promql for rule in same_name):
                continue
            message = (
                f"{name} is a PromQL rule: test it with input_series (promtool)"
                if same_name
                else f"no {'alert' if kind is AlertRule else 'recording'} rule named {name!r} "
                "in rule_files"
            )
            problems.append(ConfigProblem(str(test_file.path), line, key, message))
    return problems


def _bad_test_file(path: Path, problems: list[ConfigProblem], out: TextIO, err: TextIO) -> int:
    print(f"Unit Testing:  {path}", file=out)
    for problem in problems:
        print(problem, file=err)
    print(f"  FAILED: the test file has {len(problems)} problem(s)\n", file=out)
    return BAD_TEST_FILE


def _report(path: Path, failures: list[str], out: TextIO) -> int:
    """promtool's framing: the heading, SUCCESS or FAILED: with each failure, a blank line."""
    print(f"Unit Testing:  {path}", file=out)
    if not failures:
        print("  SUCCESS\n", file=out)
        return PASSED
    print("  FAILED:", file=out)
    for failure in failures:
        print(f"{failure}\n", file=out)
    print(file=out)
    return FAILED
