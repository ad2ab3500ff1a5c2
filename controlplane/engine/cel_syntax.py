"""A small CEL tokenizer, and the questions rules ask of an expression's text before running it.

The `cel` library compiles and runs expressions but does not expose their syntax tree, so the few
static facts rules need come from tokens: the left operand of the first comparison (a rule's
`value` when it names none), the literal keys an expression indexes maps with (so
`error_share["E123"]` reads 0 instead of failing when no E123 happened), and the variables
comprehension macros bind (`k` in `error_share.exists(k, ...)`, which is not a window variable).
Strings and comments are tokens of their own, so operators inside them are never mistaken.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

_TOKEN = re.compile(
    r"""
    (?P<space>\s+|//[^\n]*)
  | (?P<string>(?:[rR][bB]?|[bB][rR]?)?(?:\"\"\"(?:\\.|[^\\])*?\"\"\"|'''(?:\\.|[^\\])*?'''
        |"(?:\\.|[^\\"\n])*"|'(?:\\.|[^\\'\n])*'))
  | (?P<number>(?:0[xX][0-9a-fA-F]+|\d+\.\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?
        |\d+[eE][+-]?\d+|\d+)[uU]?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>&&|\|\||<=|>=|==|!=|[-+*/%!<>?:.,\[\](){}])
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)

COMPARISONS: Final = frozenset({"<", "<=", ">", ">=", "==", "!="})
# Operators that bind looser than a comparison: an operand never extends past them.
_LOOSER: Final = frozenset({"&&", "||", "?", ":", ","})
_OPENERS: Final = frozenset({"(", "[", "{"})
_CLOSERS: Final = frozenset({")", "]", "}"})
_MACROS: Final = frozenset({"all", "exists", "exists_one", "map", "filter"})


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # string, number, ident, op, other
    text: str
    start: int
    end: int


def tokenize(source: str) -> list[Token]:
    """The tokens of a CEL expression, whitespace and comments dropped."""
    tokens = []
    for match in _TOKEN.finditer(source):
        kind = match.lastgroup or "other"
        if kind != "space":
            tokens.append(Token(kind, match.group(), match.start(), match.end()))
    return tokens


def first_comparison_operand(source: str) -> str | None:
    """The text of the left operand of the first comparison (`<`, `<=`, `>`, `>=`, `==`, `!=`).

    `delivery_rate < 0.90 && total >= 200` → `delivery_rate`; `double(failed) / double(total) >
    0.1` → `double(failed) / double(total)`. Membership (`"E1" in error_share`) is not a
    comparison: its left operand is a key, not a measurement. None when there is no comparison.
    """
    tokens = tokenize(source)
    for index, token in enumerate(tokens):
        if token.kind == "op" and token.text in COMPARISONS:
            start = _operand_start(tokens, index)
            if start < index:
                return source[tokens[start].start : tokens[index - 1].end].strip()
    return None


def _operand_start(tokens: list[Token], operator: int) -> int:
    """Walk left from an operator to where its left operand starts, skipping bracketed groups."""
    depth = 0
    position = operator - 1
    while position >= 0:
        text = tokens[position].text if tokens[position].kind == "op" else ""
        if text in _CLOSERS:
            depth += 1
        elif text in _OPENERS:
            if depth == 0:
                break  # the operand is the first thing inside this bracket
            depth -= 1
        elif depth == 0 and (text in _LOOSER or text in COMPARISONS):
            break
        position -= 1
    return position + 1


def indexed_literal(tokens: list[Token], index: int) -> str | None:
    """The key of `name["literal"]` at tokens[index], or None for any other use of the name
    (or a literal whose escapes are not read here: the caller then uses the whole map)."""
    following = tokens[index + 1 : index + 4]
    if len(following) < 3:
        return None
    opener, key, closer = following
    if (opener.text, closer.text) != ("[", "]") or key.kind != "string":
        return None
    return _plain_string(key.text)


def _plain_string(literal: str) -> str | None:
    """The value of a simple string literal; None for bytes, or escapes this tokenizer won't
    interpret (the caller then hands the expression the whole map, which is always correct)."""
    prefix = ""
    while literal and literal[0] in "rRbB":
        prefix += literal[0].lower()
        literal = literal[1:]
    if "b" in prefix:
        return None
    quote = literal[:3] if literal[:3] in ('"""', "'''") else literal[:1]
    body = literal[len(quote) : -len(quote)]
    if "\\" in body and "r" not in prefix:
        return None
    return body


def comprehension_variables(source: str) -> frozenset[str]:
    """Names bound by macros (`x` in `m.exists(x, ...)`): local to the expression, not inputs."""
    tokens = tokenize(source)
    bound = set()
    for index in range(len(tokens) - 4):
        dot, macro, opener, name, comma = tokens[index : index + 5]
        if (
            dot.text == "."
            and macro.kind == "ident"
            and macro.text in _MACROS
            and opener.text == "("
            and name.kind == "ident"
            and comma.text == ","
        ):
            bound.add(name.text)
    return frozenset(bound)
