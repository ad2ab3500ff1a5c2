"""Label matchers as Alertmanager parses, orders, prints and applies them (=, !=, =~, !~)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

# Alertmanager's pkg/labels parse regexp: name, operator, value (quoted or not), spaces trimmed.
_MATCHER = re.compile(r"^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(=~|=|!=|!~)\s*(.*?)\s*$", re.DOTALL)
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


class MatcherError(ValueError):
    """Text that is not a matcher, or a regex that does not compile."""


class MatchOp(StrEnum):
    EQUAL = "="
    NOT_EQUAL = "!="
    REGEX = "=~"
    NOT_REGEX = "!~"


# Alertmanager sorts matchers of equal name and value by the operator's enum order.
_OP_ORDER = {MatchOp.EQUAL: 0, MatchOp.NOT_EQUAL: 1, MatchOp.REGEX: 2, MatchOp.NOT_REGEX: 3}


@dataclass(frozen=True)
class Matcher:
    """One condition on one label; a missing label matches as the empty string."""

    name: str
    op: MatchOp
    value: str
    regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def build(cls, name: str, op: MatchOp, value: str) -> Matcher:
        if op in (MatchOp.REGEX, MatchOp.NOT_REGEX):
            try:
                # Alertmanager anchors every regex: ^(?:value)$; fullmatch does the same.
                pattern = re.compile(f"(?:{value})")
            except re.error as exc:
                raise MatcherError(f"invalid regular expression {value!r}: {exc}") from None
            return cls(name, op, value, pattern)
        return cls(name, op, value)

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.op is MatchOp.EQUAL:
            return actual == self.value
        if self.op is MatchOp.NOT_EQUAL:
            return actual != self.value
        assert self.regex is not None
        found = self.regex.fullmatch(actual) is not None
        return found if self.op is MatchOp.REGEX else not found

    def to_json(self) -> dict[str, str]:
        """The stored and API form: `{name, op, value}`."""
        return {"name": self.name, "op": self.op.value, "value": self.value}

    @classmethod
    def from_json(cls, raw: Mapping[str, str]) -> Matcher:
        try:
            op = MatchOp(raw["op"])
        except ValueError:
            raise MatcherError(f"unknown matcher operator {raw['op']!r}") from None
        return cls.build(raw["name"], op, raw["value"])

    def sort_key(self) -> tuple[str, str, int]:
        return (self.name, self.value, _OP_ORDER[self.op])

    def __str__(self) -> str:
        return f'{self.name}{self.op}"{_open_metrics_escape(self.value)}"'


def sorted_matchers(matchers: Iterable[Matcher]) -> tuple[Matcher, ...]:
    """Matchers in Alertmanager's order (name, value, operator): the order route keys print."""
    return tuple(sorted(matchers, key=Matcher.sort_key))


def all_match(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    return all(matcher.matches(labels) for matcher in matchers)


def format_matchers(matchers: Iterable[Matcher]) -> str:
    """`{a="1",b=~"x"}`, as Alertmanager's Matchers.String prints them."""
    return "{" + ",".join(str(matcher) for matcher in matchers) + "}"


def format_label_set(labels: Mapping[str, str]) -> str:
    """`{a="1", b="2"}`, sorted by name, as Prometheus' LabelSet.String prints (Go %q values)."""
    return "{" + ", ".join(f"{name}={go_quote(labels[name])}" for name in sorted(labels)) + "}"


def parse_matcher(text: str) -> Matcher:
    """One matcher such as `severity="critical"`, `team=~"sms|ops"` or `env!=prod`."""
    found = _MATCHER.match(text)
    if found is None:
        raise MatcherError(f"bad matcher format: {text}")
    name, op, raw = found.group(1), MatchOp(found.group(2)), found.group(3)
    return Matcher.build(name, op, _unquote(raw))


def parse_matchers(text: str) -> list[Matcher]:
    """Several matchers in one string, `{a="1", b=~"x"}` or `a=1,b=~x`, split outside quotes."""
    text = text.removeprefix("{").removesuffix("}")
    tokens: list[str] = []
    token: list[str] = []
    inside_quotes = escaped = False
    for char in text:
        if char == "," and not inside_quotes:
            tokens.append("".join(token))
            token = []
            continue
        if char == '"':
            if escaped:
                escaped = False
            else:
                inside_quotes = not inside_quotes
        elif char == "\\":
            escaped = not escaped
        else:
            escaped = False
        token.append(char)
    last = "".join(token).strip()
    if last:
        tokens.append(last)
    return [parse_matcher(item) for item in tokens]


def _unquote(raw: str) -> str:
    """The value of a matcher: an optional quoted form with \\n, \\" and \\\\ escapes."""
    expect_closing_quote = raw.startswith('"')
    if expect_closing_quote:
        raw = raw[1:]
    value: list[str] = []
    escaped = False
    for index, char in enumerate(raw):
        if escaped:
            escaped = False
            # A spurious escape such as \d keeps its backslash, as Alertmanager keeps it.
            value.append({"n": "\n", '"': '"', "\\": "\\"}.get(char, "\\" + char))
            continue
        if char == "\\":
            if index < len(raw) - 1:
                escaped = True
            else:
                value.append(char)
        elif char == '"':
            if not expect_closing_quote or index < len(raw) - 1:
                raise MatcherError(f"matcher value contains unescaped double quote: {raw}")
            expect_closing_quote = False
        else:
            value.append(char)
    if expect_closing_quote:
        raise MatcherError(f"matcher value contains unescaped double quote: {raw}")
    return "".join(value)


def _open_metrics_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


_GO_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    "\\": "\\\\",
    '"': '\\"',
}


def go_quote(value: str) -> str:
    """A string quoted as Go's %q quotes it: printable characters kept, others escaped."""
    parts: list[str] = []
    for char in value:
        if char in _GO_ESCAPES:
            parts.append(_GO_ESCAPES[char])
        elif char.isprintable():
            parts.append(char)
        elif ord(char) < 0x80:
            parts.append(f"\\x{ord(char):02x}")
        elif ord(char) <= 0xFFFF:
            parts.append(f"\\u{ord(char):04x}")
        else:
            parts.append(f"\\U{ord(char):08x}")
    return '"' + "".join(parts) + '"'
