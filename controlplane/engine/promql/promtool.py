"""Runs `promtool test rules` on a promtool test file whose rule files may be smsctl rule files.

PromQL rules are tested by Prometheus' own engine, not one of ours. A rule file holding smsctl
keys is handed to promtool as a Prometheus-format copy with only its PromQL rules (see
`promformat`), through a copy of the test file that points at the copies; anything else runs
exactly as `promtool test rules` would run it, so a test file written for promtool passes or fails
the same here. promtool's output, with its diff on failure, is returned with our temporary paths
and positions replaced by the files, lines and columns the user wrote.
"""

from __future__ import annotations

import glob
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from controlplane.engine.promql.promformat import PrometheusRuleFile, prometheus_rule_file

PROMTOOL_INSTALL_HINT = "install it with: apt-get install -y --no-install-recommends prometheus"
_STR_TAG = "tag:yaml.org,2002:str"


class PromtoolError(Exception):
    """promtool could not be run at all (missing, or did not finish in time)."""


@dataclass(frozen=True)
class PromtoolResult:
    """promtool's verdict and everything it printed (stdout and stderr, interleaved)."""

    passed: bool
    output: str


def run_promtool_tests(
    test_file: Path, *, promtool: str = "promtool", timeout_s: float = 120.0
) -> PromtoolResult:
    """`promtool test rules test_file`, accepting smsctl rule files among its `rule_files`."""
    executable = shutil.which(promtool)
    if executable is None:
        raise PromtoolError(f"{promtool} not found; {PROMTOOL_INSTALL_HINT}")
    with tempfile.TemporaryDirectory(prefix="smsctl-promtool-") as workdir:
        copies: list[_Copy] = []
        target = _prepare(test_file, Path(workdir), copies)
        try:
            completed = subprocess.run(
                [executable, "test", "rules", str(target)],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise PromtoolError(f"promtool did not finish within {timeout_s:g}s") from exc
    output = completed.stdout
    for copy in copies:
        output = copy.restore_names(output)
    return PromtoolResult(passed=completed.returncode == 0, output=output)


@dataclass(frozen=True)
class _Copy:
    """A file we handed promtool in place of the user's one."""

    path: str
    original: str
    rule_file: PrometheusRuleFile | None = None  # None for the test file itself

    def restore_names(self, output: str) -> str:
        """promtool's output with this copy's path and positions replaced by the original's."""
        if self.rule_file is None:
            return output.replace(self.path, self.original)
        rule_file = self.rule_file

        def position(match: re.Match[str]) -> str:
            line, column = rule_file.original_position(int(match[1]), int(match[2]))
            return f"{self.original}: {line}:{column}:"

        def unmarshal_lines(match: re.Match[str]) -> str:
            return re.sub(
                r"line (\d+):",
                lambda m: f"line {rule_file.original_position(int(m[1]), 1)[0]}:",
                match[0],
            )

        path = re.escape(self.path)
        output = re.sub(rf"{path}: (\d+):(\d+):", position, output)
        output = re.sub(
            rf"{path}: yaml: unmarshal errors:\n(?:  line \d+: .*\n?)+", unmarshal_lines, output
        )
        return output.replace(self.path, self.original)


def _prepare(test_file: Path, workdir: Path, copies: list[_Copy]) -> Path:
    """The test file promtool should run: the original, or a copy pointing at converted rules.

    The copy is edited on the YAML node tree and written back, so every value keeps the form
    the user gave it (a plain `1e3` stays a number for promtool's YAML parser).
    """
    root = _compose(test_file)
    entries = _rule_file_entries(root)
    if root is None or entries is None:
        return test_file  # promtool reports what is wrong with it
    rule_paths: list[str] = []
    for entry in entries.value:
        for path in _resolve(test_file.resolve().parent, str(entry.value)):
            rule_file = _rule_file(Path(path))
            if rule_file is None:
                rule_paths.append(path)
                continue
            copy = workdir / f"{len(rule_paths)}-{Path(path).name}"
            copy.write_text(rule_file.text, encoding="utf-8")
            copies.append(_Copy(str(copy), path, rule_file))
            rule_paths.append(str(copy))
    if not copies:
        return test_file
    entries.value = [yaml.ScalarNode(_STR_TAG, path, style="'") for path in rule_paths]
    rewritten = workdir / test_file.name
    rewritten.write_text(yaml.serialize(root, width=1_000_000, allow_unicode=True), "utf-8")
    copies.append(_Copy(str(rewritten), str(test_file)))
    return rewritten


def _compose(path: Path) -> yaml.Node | None:
    try:
        return yaml.compose(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None  # left to promtool, which reports it with its own message


def _rule_file_entries(root: yaml.Node | None) -> yaml.SequenceNode | None:
    """The test file's `rule_files` list, if it is a list of plain strings."""
    if not isinstance(root, yaml.MappingNode):
        return None
    for key, value in root.value:
        if (
            isinstance(key, yaml.ScalarNode)
            and key.value == "rule_files"
            and isinstance(value, yaml.SequenceNode)
            and all(isinstance(entry, yaml.ScalarNode) for entry in value.value)
        ):
            return value
    return None


def _resolve(directory: Path, entry: str) -> list[str]:
    """A `rule_files` entry as promtool reads it: relative to the test file, globs expanded."""
    pattern = entry if Path(entry).is_absolute() else str(directory / entry)
    matches = sorted(glob.glob(pattern))
    # A pattern matching nothing stays, so promtool names the missing file itself.
    return matches or [pattern]


def _rule_file(path: Path) -> PrometheusRuleFile | None:
    try:
        return prometheus_rule_file(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return None  # left to promtool, which reports it with its own message
