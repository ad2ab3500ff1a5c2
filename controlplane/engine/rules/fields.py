"""Typed reads from a parsed YAML document that record each problem with file, line and key.

The rule loader reads through a `FieldReader` instead of raising at the first bad value, so one
run reports every problem in a file, each pointing at the line of the offending key.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from controlplane.engine.rules.durations import DurationError, parse_duration
from smsplatform.config.yamlsource import ConfigProblem, YamlDocument

Path = tuple[str | int, ...]


class FieldReader:
    """Reads one document; `problems` collects what is wrong, in the order found."""

    def __init__(self, document: YamlDocument) -> None:
        self.document = document
        self.problems: list[ConfigProblem] = []

    def fail(self, path: Path, message: str) -> None:
        self.problems.append(self.document.problem(path, message))

    def line(self, path: Path) -> int | None:
        return self.document.line_of(path)

    def mapping(
        self,
        value: Any,
        path: Path,
        allowed: Iterable[str],
        what: str,
        hint: str = "",
    ) -> dict[str, Any] | None:
        """`value` as a mapping whose keys are all in `allowed`; each unknown key is a problem."""
        if not isinstance(value, dict):
            self.fail(path, f"expected a mapping ({what}), got {_kind(value)}")
            return None
        known = set(allowed)
        for key in value:
            if not isinstance(key, str):
                self.fail(path, f"keys must be strings, got {_kind(key)} {key!r}")
            elif key not in known:
                suggestion = f"; {hint}" if hint else ""
                self.fail(
                    (*path, key),
                    f"unknown key in {what} (known: {', '.join(sorted(known))}){suggestion}",
                )
        return value

    def sequence(self, value: Any, path: Path, what: str) -> list[Any] | None:
        if not isinstance(value, list):
            self.fail(path, f"expected a list of {what}, got {_kind(value)}")
            return None
        return value

    def string(
        self, mapping: dict[str, Any], path: Path, key: str, required: bool = False
    ) -> str | None:
        """A non-empty string at `key`; a problem if it is missing and `required`."""
        if key not in mapping or mapping[key] is None:
            if required:
                self.fail(path if key not in mapping else (*path, key), f"`{key}` is required")
            return None
        value = mapping[key]
        if not isinstance(value, str):
            self.fail((*path, key), f"expected a string, got {_kind(value)}")
            return None
        if not value.strip():
            self.fail((*path, key), "must not be empty")
            return None
        return value

    def duration(self, mapping: dict[str, Any], path: Path, key: str) -> float | None:
        """Seconds of the duration at `key`, or None when absent (or bad, with a problem)."""
        if key not in mapping:
            return None
        try:
            return parse_duration(mapping[key])
        except DurationError as exc:
            self.fail((*path, key), str(exc))
            return None

    def string_list(self, mapping: dict[str, Any], path: Path, key: str) -> tuple[str, ...]:
        value = mapping.get(key)
        if value is None:
            return ()
        if not isinstance(value, list):
            self.fail((*path, key), f"expected a list of strings, got {_kind(value)}")
            return ()
        items: list[str] = []
        for index, item in enumerate(value):
            if isinstance(item, str) and item:
                items.append(item)
            else:
                self.fail((*path, key, index), f"expected a non-empty string, got {_kind(item)}")
        return tuple(items)

    def string_map(self, mapping: dict[str, Any], path: Path, key: str) -> dict[str, str]:
        """A mapping of strings to strings (numbers and booleans are written out, as YAML says)."""
        value = mapping.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.fail((*path, key), f"expected a mapping of names to text, got {_kind(value)}")
            return {}
        result: dict[str, str] = {}
        for name, item in value.items():
            if isinstance(item, bool):
                result[str(name)] = "true" if item else "false"
            elif isinstance(item, str | int | float):
                result[str(name)] = str(item)
            else:
                self.fail((*path, key, name), f"expected text, got {_kind(item)}")
        return result


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), f"a number ({value!r})" if isinstance(value, int | float) else "a value"
    )
