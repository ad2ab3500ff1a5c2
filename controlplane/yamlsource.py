"""YAML loading that remembers where each key stood, so config errors can name file and line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with a config file: where it is and what is wrong."""

    file: str
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class ConfigError(ValueError):
    """A config file that cannot be used; carries every problem found."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class YamlDocument:
    """A parsed YAML document together with its node tree, for locating keys."""

    file: str
    data: Any
    root: yaml.Node | None

    def line_of(self, path: tuple[str | int, ...]) -> int | None:
        """1-based line of the deepest node of `path` that exists (the key itself for mappings)."""
        node = self.root
        line = node.start_mark.line + 1 if node is not None else None
        for part in path:
            if isinstance(node, yaml.MappingNode):
                match = next((kv for kv in node.value if kv[0].value == part), None)
                if match is None:
                    break
                line = match[0].start_mark.line + 1
                node = match[1]
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                if part >= len(node.value):
                    break
                node = node.value[part]
                line = node.start_mark.line + 1
            else:
                break
        return line

    def problem(self, path: tuple[str | int, ...], message: str) -> ConfigProblem:
        key = ".".join(str(p) for p in path)
        return ConfigProblem(self.file, self.line_of(path), key, message)


def parse_yaml(text: str, file: str) -> YamlDocument:
    """Parse one YAML document; a syntax error becomes a ConfigError with its line."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        raise ConfigError([ConfigProblem(file, line, "", f"invalid YAML: {exc.problem}")]) from None
    return YamlDocument(file=file, data=data, root=root)


def load_yaml(path: Path) -> YamlDocument:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            [ConfigProblem(str(path), None, "", f"cannot read: {exc.strerror}")]
        ) from None
    return parse_yaml(text, str(path))
