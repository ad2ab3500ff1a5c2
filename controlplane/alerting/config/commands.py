"""`smsctl alerting check FILE` and `smsctl alerting route --config FILE k=v ...`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from controlplane.alerting.config.loader import load_alerting_config
from controlplane.alerting.config.matchers import MatcherError, MatchOp, parse_matcher
from controlplane.alerting.config.routes import receivers_for
from smsplatform.config.yamlsource import ConfigError


def alerting_check_command(
    path: Path, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """Validate a config: problems as file:line to stderr, warnings and a summary to stdout."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    try:
        config = load_alerting_config(Path(path))
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=err)
        print(f"FAILED: {len(exc.problems)} problem(s) in {path}", file=out)
        return 1
    for warning in config.warnings:
        print(f"warning: {warning}", file=out)
    routes = sum(1 for _ in config.route.walk())
    print(
        f"SUCCESS: {path}: {len(config.receivers)} receiver(s), {routes} route(s), "
        f"{len(config.inhibit_rules)} inhibit rule(s), {len(config.time_intervals)} time "
        f"interval(s), {len(config.escalations)} escalation(s), {len(config.warnings)} warning(s)",
        file=out,
    )
    return 0


def alerting_route_command(
    path: Path,
    label_pairs: list[str],
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    verify_receivers: str | None = None,
) -> int:
    """Print the receivers an alert with these labels reaches, as `amtool config routes test`.

    With `verify_receivers` (amtool's --verify.receivers), exit 1 when the line differs from it.
    """
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    labels: dict[str, str] = {}
    for pair in label_pairs:
        try:
            matcher = parse_matcher(pair)
        except MatcherError as exc:
            print(f"{exc}", file=err)
            return 1
        if matcher.op is not MatchOp.EQUAL:
            print(f"{pair}: labels must be specified as key=value pairs", file=err)
            return 1
        labels[matcher.name] = matcher.value
    try:
        config = load_alerting_config(Path(path))
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=err)
        return 1
    line = ",".join(receivers_for(config.route, labels))
    print(line, file=out)
    if verify_receivers is not None and verify_receivers != line:
        print("WARNING: Expected receivers did not match resolved receivers.", file=out)
        return 1
    return 0
