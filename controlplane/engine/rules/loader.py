"""Loads rule files (`rules/*.yaml`) into RuleGroups; any problem fails the load with file:line.

A file loads whole or not at all: ConfigError carries every problem found (unknown keys, bad
durations, CEL and template errors, ...), each naming file, line and key, so a reload can keep
the running rules when the new text is wrong. Prometheus rule files load unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

from controlplane.engine.rules.fields import FieldReader
from controlplane.engine.rules.fields import Path as KeyPath
from controlplane.engine.rules.model import DEFAULT_INTERVAL_S, LABEL_NAME, Rule, RuleGroup, RuleSet
from controlplane.engine.rules.rule_parser import parse_rule
from smsplatform.config.yamlsource import (
    ConfigError,
    ConfigProblem,
    YamlDocument,
    load_yaml,
    parse_yaml,
)

FILE_KEYS: Final = frozenset({"groups"})
GROUP_KEYS: Final = frozenset({"name", "interval", "rules", "limit", "query_offset", "labels"})
RULE_FILE_SUFFIXES: Final = (".yaml", ".yml")


def load_rules_text(text: str, file: str) -> tuple[RuleGroup, ...]:
    """The groups of one rule file's text; ConfigError listing every problem."""
    return _groups_of(parse_yaml(text, file))


def load_rule_file(path: Path) -> tuple[RuleGroup, ...]:
    """The groups of one rule file; ConfigError listing every problem."""
    return _groups_of(load_yaml(path))


def rule_files(paths: Iterable[Path]) -> list[Path]:
    """The rule files named: files as given, directories' `*.yaml`/`*.yml` (not recursive).

    Not recursive on purpose: `rules/examples/` sits beside the shipped rules without being
    loaded with them, as Prometheus' `rule_files: [rules/*.yaml]` would behave.
    """
    found: list[Path] = []
    problems: list[ConfigProblem] = []
    for path in paths:
        if path.is_dir():
            in_dir = sorted(p for p in path.iterdir() if p.suffix in RULE_FILE_SUFFIXES)
            if not in_dir:
                problems.append(ConfigProblem(str(path), None, "", "no *.yaml rule files here"))
            found.extend(p for p in in_dir if p.is_file())
        elif path.is_file():
            found.append(path)
        else:
            problems.append(ConfigProblem(str(path), None, "", "no such file or directory"))
    if problems:
        raise ConfigError(problems)
    return found


def load_rule_paths(paths: Iterable[Path]) -> RuleSet:
    """Every group of every rule file under `paths`; ConfigError with the problems of all."""
    files = rule_files(paths)
    groups: list[RuleGroup] = []
    problems: list[ConfigProblem] = []
    for file in files:
        try:
            groups.extend(load_rule_file(file))
        except ConfigError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ConfigError(problems)
    return RuleSet(tuple(groups), tuple(str(file) for file in files))


def _groups_of(document: YamlDocument) -> tuple[RuleGroup, ...]:
    reader = FieldReader(document)
    groups: list[RuleGroup] = []
    data = document.data
    if data is not None:  # an empty file holds no groups, as in Prometheus
        top = reader.mapping(data, (), FILE_KEYS, "a rule file", hint="rules go under `groups:`")
        raw_groups = top.get("groups") if top is not None else None
        entries = [] if raw_groups is None else reader.sequence(raw_groups, ("groups",), "groups")
        seen: dict[str, int | None] = {}
        for index, raw in enumerate(entries or []):
            group = _group(reader, raw, ("groups", index), seen)
            if group is not None:
                groups.append(group)
    if reader.problems:
        raise ConfigError(sorted(reader.problems, key=lambda p: p.line or 0))
    return tuple(groups)


def _group(
    reader: FieldReader, raw: Any, path: KeyPath, seen: dict[str, int | None]
) -> RuleGroup | None:
    group = reader.mapping(raw, path, GROUP_KEYS, "a rule group")
    if group is None:
        return None
    before = len(reader.problems)
    name = reader.string(group, path, "name", required=True)
    if name is not None:
        if name in seen:
            reader.fail(
                (*path, "name"), f"duplicate group name {name!r} (first at line {seen[name]})"
            )
        else:
            seen[name] = reader.line((*path, "name"))
    interval = reader.duration(group, path, "interval")
    if interval is not None and interval <= 0:
        reader.fail((*path, "interval"), "must be longer than 0s")
    query_offset = reader.duration(group, path, "query_offset") or 0.0
    limit = group.get("limit", 0)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        reader.fail((*path, "limit"), "expected a whole number ≥ 0 (0 = no limit)")
        limit = 0
    labels = reader.string_map(group, path, "labels")
    for label in labels:
        if not LABEL_NAME.fullmatch(label) or label == "__name__":
            reader.fail((*path, "labels", label), f"{label!r} is not a valid label name")
    rules: list[Rule] = []
    raw_rules = group.get("rules")
    entries = [] if raw_rules is None else reader.sequence(raw_rules, (*path, "rules"), "rules")
    for index, raw_rule in enumerate(entries or []):
        rule = parse_rule(reader, raw_rule, (*path, "rules", index), name or "", labels)
        if rule is not None:
            rules.append(rule)
    if name is None or len(reader.problems) != before:
        return None
    return RuleGroup(
        name=name,
        file=reader.document.file,
        line=reader.line(path),
        interval_s=interval or DEFAULT_INTERVAL_S,
        rules=tuple(rules),
        limit=limit,
        query_offset_s=query_offset,
    )
