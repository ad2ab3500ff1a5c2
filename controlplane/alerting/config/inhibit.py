"""Inhibition rules: a firing source alert mutes the target alerts that share its `equal` labels."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from controlplane.alerting.config.matcher_fields import read_matcher_fields
from controlplane.alerting.config.matchers import LABEL_NAME, Matcher, all_match
from controlplane.alerting.config.reader import ConfigReader
from controlplane.engine.rules.fields import Path

_KEYS = (
    "source_matchers",
    "target_matchers",
    "equal",
    "source_match",
    "source_match_re",
    "target_match",
    "target_match_re",
)


@dataclass(frozen=True)
class InhibitRule:
    """One `inhibit_rules` entry."""

    source_matchers: tuple[Matcher, ...]
    target_matchers: tuple[Matcher, ...]
    equal: tuple[str, ...] = ()
    line: int | None = None

    def is_source(self, labels: Mapping[str, str]) -> bool:
        return all_match(self.source_matchers, labels)

    def is_target(self, labels: Mapping[str, str]) -> bool:
        return all_match(self.target_matchers, labels)

    def inhibits(self, source: Mapping[str, str], target: Mapping[str, str]) -> bool:
        """Whether a firing alert with `source` labels mutes one with `target` labels.

        As in Alertmanager, a label missing from both counts as equal (both are empty).
        """
        return (
            self.is_source(source)
            and self.is_target(target)
            and all(source.get(name, "") == target.get(name, "") for name in self.equal)
        )


def read_inhibit_rule(reader: ConfigReader, raw: Any, path: Path) -> InhibitRule | None:
    node = reader.mapping(raw, path, _KEYS, "inhibit rule")
    if node is None:
        return None
    source = read_matcher_fields(
        reader, node, path, "source_matchers", "source_match", "source_match_re"
    )
    target = read_matcher_fields(
        reader, node, path, "target_matchers", "target_match", "target_match_re"
    )
    equal = reader.string_list(node, path, "equal")
    for index, name in enumerate(equal):
        if not LABEL_NAME.match(name):
            reader.fail((*path, "equal", index), f"{name!r} is not a valid label name")
    return InhibitRule(tuple(source), tuple(target), equal, reader.line(path))
