"""`smsctl rules check PATH...`: validate rule files, print problems as file:line, exit 1 on any."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from controlplane.engine.rules.loader import load_rule_file, rule_files
from smsplatform.config.yamlsource import ConfigError


def rules_check_command(
    paths: list[Path], stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """Check every rule file under `paths`: problems to stderr, a summary to stdout; 0 or 1."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    try:
        files = rule_files(paths)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=err)
        print(f"FAILED: {len(exc.problems)} problem(s) finding rule files", file=out)
        return 1
    failed_files = 0
    problem_count = 0
    group_count = 0
    rule_count = 0
    for file in files:
        try:
            groups = load_rule_file(file)
        except ConfigError as exc:
            failed_files += 1
            problem_count += len(exc.problems)
            for problem in exc.problems:
                print(problem, file=err)
            print(f"{file}: FAILED, {len(exc.problems)} problem(s)", file=out)
            continue
        rules = sum(len(group.rules) for group in groups)
        group_count += len(groups)
        rule_count += rules
        print(f"{file}: ok, {len(groups)} group(s), {rules} rule(s)", file=out)
    if failed_files:
        print(
            f"FAILED: {problem_count} problem(s) in {failed_files} of {len(files)} file(s)",
            file=out,
        )
        return 1
    print(f"SUCCESS: {len(files)} file(s), {group_count} group(s), {rule_count} rule(s)", file=out)
    return 0
