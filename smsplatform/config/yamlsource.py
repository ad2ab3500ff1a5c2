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
    """Parse one YAML document; a syntax error becomes a ConfigError with its line.

    So are the shapes no config has and the loaders could not walk: nesting deeper than
    MAX_NESTING, and an alias inside the node it names (`&a [*a]`, a structure holding itself).
    """
    try:
        root, data = _node_and_data(text, file)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        raise ConfigError([ConfigProblem(file, line, "", f"invalid YAML: {exc.problem}")]) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow (NUL, controls)
        line = text.count("\n", 0, exc.position) + 1
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        message = f"invalid YAML: character U+{code:04X} is not allowed"
        raise ConfigError([ConfigProblem(file, line, "", message)]) from None
    except RecursionError:  # the composer's own recursion, before any mark is known
        raise ConfigError([ConfigProblem(file, None, "", TOO_DEEP)]) from None
    return YamlDocument(file=file, data=data, root=root)


def _node_and_data(text: str, file: str) -> tuple[yaml.Node | None, Any]:
    """Parsed once: the node tree locates keys, and the data is built from that same tree."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None, None
        _check_shape(root, file)
        return root, loader.construct_document(root)
    finally:
        loader.dispose()


# Configs nest a dozen levels at most; the loaders walk route trees recursively.
MAX_NESTING = 64
TOO_DEEP = f"invalid YAML: nested deeper than {MAX_NESTING} levels"


def _check_shape(root: yaml.Node, file: str) -> None:
    """ConfigError for a node nested past MAX_NESTING or holding itself through an alias.

    Depth-first without recursion; nodes shared through aliases are walked once, so a
    "billion laughs" document costs its size, not its expansion.
    """
    finished: set[int] = set()
    on_path: set[int] = {id(root)}
    stack = [(root, iter(_children(root)))]
    while stack:
        node, children = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            on_path.discard(id(node))
            finished.add(id(node))
            continue
        line = child.start_mark.line + 1
        if id(child) in on_path:
            raise ConfigError([ConfigProblem(file, line, "", "an alias inside what it names")])
        if id(child) in finished:
            continue
        if len(stack) >= MAX_NESTING:
            raise ConfigError([ConfigProblem(file, line, "", TOO_DEEP)])
        on_path.add(id(child))
        stack.append((child, iter(_children(child))))


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def load_yaml(path: Path) -> YamlDocument:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            [ConfigProblem(str(path), None, "", f"cannot read: {exc.strerror}")]
        ) from None
    except UnicodeDecodeError as exc:
        line = exc.object.count(b"\n", 0, exc.start) + 1
        raise ConfigError([ConfigProblem(str(path), line, "", "not UTF-8 text")]) from None
    return parse_yaml(text, str(path))
