"""Reading matcher fields of a config node: `matchers` strings and the deprecated maps."""

from __future__ import annotations

from typing import Any

from controlplane.alerting.config.matchers import (
    LABEL_NAME,
    Matcher,
    MatcherError,
    MatchOp,
    parse_matchers,
)
from controlplane.alerting.config.reader import ConfigReader
from controlplane.engine.rules.fields import Path


def read_matcher_fields(
    reader: ConfigReader,
    node: dict[str, Any],
    path: Path,
    matchers_key: str,
    equal_key: str,
    regex_key: str,
) -> list[Matcher]:
    """Matchers of `node` in Alertmanager's order of appending: equal map, regex map, strings."""
    found: list[Matcher] = []
    for key, op in ((equal_key, MatchOp.EQUAL), (regex_key, MatchOp.REGEX)):
        if key not in node:
            continue
        reader.warn((*path, key), f"`{key}` is deprecated; write `{matchers_key}` instead")
        for name, value in reader.string_map(node, path, key).items():
            if not LABEL_NAME.match(name):
                reader.fail((*path, key, name), f"{name!r} is not a valid label name")
                continue
            if op is MatchOp.REGEX:
                # Alertmanager stores a deprecated regex anchored, and route keys print it so.
                value = f"^(?:{value})$"
            try:
                found.append(Matcher.build(name, op, value))
            except MatcherError as exc:
                reader.fail((*path, key, name), str(exc))
    found.extend(read_matcher_strings(reader, node, path, matchers_key))
    return found


def read_matcher_strings(
    reader: ConfigReader, node: dict[str, Any], path: Path, key: str
) -> list[Matcher]:
    """A list of matcher strings (each may hold several, comma-separated); one string also works."""
    raw = node.get(key)
    if raw is None:
        return []
    lines = [raw] if isinstance(raw, str) else reader.sequence(raw, (*path, key), "matchers")
    found: list[Matcher] = []
    for index, line in enumerate(lines or []):
        where = (*path, key) if isinstance(raw, str) else (*path, key, index)
        if not isinstance(line, str):
            reader.fail(where, 'expected a matcher string such as severity="critical"')
            continue
        try:
            found.extend(parse_matchers(line))
        except MatcherError as exc:
            reader.fail(where, str(exc))
    return found
