"""The input_series tests of a mixed test file, run by `promtool test rules` through a copy.

The copy holds the file's promtool tests exactly as written (edited on the YAML node tree, so
every value keeps its form) with the same `evaluation_interval` and `group_eval_order`, and its
`rule_files` made absolute so they resolve from the copy's directory as from the original's.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import yaml

from controlplane.engine.promql import run_promtool_tests
from controlplane.engine.ruletest.model import RuleTestFile

_STR_TAG: Final = "tag:yaml.org,2002:str"
# promtool's own framing of a file's result; the errors between them are what we keep.
_FRAMING: Final = ("  SUCCESS", "  FAILED:")


@dataclass(frozen=True)
class PromtoolVerdict:
    """promtool's verdict on the promtool tests of a file, and its error text for them."""

    passed: bool
    errors: str


def run_promtool_part(test_file: RuleTestFile, text: str) -> PromtoolVerdict:
    """Run the promtool tests of `test_file` (whose YAML is `text`); raises PromtoolError."""
    root = yaml.compose(text)
    assert isinstance(root, yaml.MappingNode)  # the loader accepted it as a mapping
    kept = set(test_file.promtool_tests)
    base = test_file.path.resolve().parent
    for key, value in root.value:
        if key.value == "tests" and isinstance(value, yaml.SequenceNode):
            value.value = [test for index, test in enumerate(value.value) if index in kept]
        elif key.value == "rule_files" and isinstance(value, yaml.SequenceNode):
            value.value = [
                yaml.ScalarNode(_STR_TAG, str(base / entry.value), style="'")
                for entry in value.value
            ]
    with tempfile.TemporaryDirectory(prefix="smsctl-rulestest-") as workdir:
        copy = Path(workdir) / test_file.path.name
        copy.write_text(yaml.serialize(root, width=1_000_000, allow_unicode=True), "utf-8")
        result = run_promtool_tests(copy)
    output = result.output.replace(str(copy), str(test_file.path))
    return PromtoolVerdict(result.passed, promtool_errors(output))


def promtool_errors(output: str) -> str:
    """promtool's output for one file without its `Unit Testing:` line and SUCCESS/FAILED marks."""
    lines = [
        line
        for line in output.splitlines()
        if not line.startswith("Unit Testing:") and line not in _FRAMING
    ]
    return "\n".join(lines).strip("\n")
