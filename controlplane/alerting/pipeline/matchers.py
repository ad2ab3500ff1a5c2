"""Label matchers (=, !=, =~, !~) as Alertmanager defines them, for silences and inhibit rules."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

MatchOp = Literal["=", "!=", "=~", "!~"]
MATCH_OPS: tuple[MatchOp, ...] = ("=", "!=", "=~", "!~")


@dataclass(frozen=True)
class Matcher:
    """One condition on one label; a missing label matches as the empty string, as in Prometheus."""

    name: str
    op: MatchOp
    value: str
    _pattern: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.op not in MATCH_OPS:
            raise ValueError(f"unknown matcher operator {self.op!r}")
        if self.op in ("=~", "!~"):
            # Regex matchers are anchored at both ends, as Alertmanager anchors them.
            object.__setattr__(self, "_pattern", re.compile(f"^(?:{self.value})$"))

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        assert self._pattern is not None
        found = self._pattern.match(actual) is not None
        return found if self.op == "=~" else not found

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "op": self.op, "value": self.value}

    @classmethod
    def from_json(cls, raw: Mapping[str, str]) -> Matcher:
        op = raw["op"]
        if op not in MATCH_OPS:
            raise ValueError(f"unknown matcher operator {op!r}")
        return cls(raw["name"], op, raw["value"])


def all_match(matchers: Sequence[Matcher], labels: Mapping[str, str]) -> bool:
    return all(matcher.matches(labels) for matcher in matchers)


_MATCHER_TEXT = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$")


def parse_matcher(text: str) -> Matcher:
    """`name=value`, `name!=value`, `name=~regex`, `name!~regex`; the value may be "quoted"."""
    found = _MATCHER_TEXT.match(text)
    if found is None:
        raise ValueError(f"bad matcher {text!r}: expected name=value, !=, =~ or !~")
    name, op, value = found.groups()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    return Matcher(name, op, value)  # type: ignore[arg-type]
