"""Rewrites rule expressions over a window so the CEL activation holds integers only.

With the `cel` binding, building the activation is most of the cost of a rule: a Python float
converts in ~1 µs, an int in ~0.2 µs (the binding tries two integer conversions first, each
raising inside). Real-valued aggregates are therefore kept as integer billionths (see
aggregates.py), and the expression text is rewritten, token by token, to read them:

- `p95 > 30.0` (a real compared with a literal) becomes `p95 > 30000000000`: an integer compare,
  the cheapest thing CEL does, and exactly equivalent (n / 1e9 > 30.0 ⇔ n > 30·10⁹ for the
  values aggregates take);
- any other use of a real, `p95 * 2.0`, becomes `(double(p95) / 1e9)`: the same float Python
  computes for the aggregate, bit for bit;
- a map entry with a literal key, `error_share["E123"]`, becomes an input of its own (0 when the
  map lacks the key), then follows the two rules above;
- counts, labels and maps used whole (`error_share.exists(...)`) are passed as they are.
Comments are dropped (a lowered expression is later wrapped in a list, where `//` would swallow
the rest); everything else, spacing included, is kept.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from controlplane.engine.aggregates import NANO, Reading, UnknownVariableError, Variable
from controlplane.engine.cel_syntax import COMPARISONS, Token, indexed_literal, tokenize

Input = Callable[[Reading], Any]

# Tokens that end the operand before a comparison, or start the one after it: what binds looser.
_BEFORE: Final = frozenset({"(", "[", "{", ",", "&&", "||", "?", ":"})
_AFTER: Final = frozenset({")", "]", "}", ",", "&&", "||", "?", ":"})
# Beyond this a billionth no longer separates neighbouring doubles, so integer compares stop
# being exact: such literals keep the float form.
_EXACT_BELOW: Final = Decimal(9_000_000)


class Lowering:
    """Lowers the expressions of one window, collecting the inputs (name → reader) they read.

    `joined` maps other sources to their aggregates: `receipts.total` reads the same label set
    in the same window of receipts (Reading.joined, in this order)."""

    def __init__(
        self, variables: dict[str, Variable], joined: dict[str, dict[str, Variable]] | None = None
    ) -> None:
        self.variables = variables
        self.joined = joined or {}
        self.inputs: dict[str, Input] = {}
        # The inputs whose readers give an int (counts, reals in billionths, map entries), as
        # opposed to maps used whole: what prefilter.py can compare without CEL.
        self.integers: set[str] = set()
        self._entries: dict[tuple[str, str], str] = {}  # (map, literal key) → input name

    def lower(self, source: str) -> str:
        tokens = tokenize(source)
        replaced: dict[int, tuple[int, str]] = {}  # first token → (last token, replacement)
        index = 0
        while index < len(tokens):
            token = tokens[index]
            if token.kind != "ident" or _selected(tokens, index):
                index += 1
                continue
            if token.text in self.joined:
                last, name, real = self._joined_atom(tokens, index, token.text)
            elif token.text in self.variables:
                last, name, real = self._atom(tokens, index, token.text, self.variables[token.text])
            else:
                index += 1
                continue
            if real:
                compared = _literal_comparison(tokens, index, last, name)
                if compared is not None:
                    first, last, text = compared
                    replaced[first] = (last, text)
                    index = last + 1
                    continue
                replaced[index] = (last, f"(double({name}) / 1e9)")
            else:
                replaced[index] = (last, name)
            index = last + 1
        return _rebuild(source, tokens, replaced)

    def _atom(
        self, tokens: list[Token], index: int, name: str, variable: Variable
    ) -> tuple[int, str, bool]:
        """The variable at tokens[index]: its last token, its input name, whether it is real."""
        if variable.kind in ("count_map", "real_map"):
            key = indexed_literal(tokens, index)
            if key is not None and variable.entry is not None:
                entry = self._entries.get((name, key))
                if entry is None:
                    entry = self._entries[(name, key)] = f"__{name}_{len(self._entries)}"
                    self.inputs[entry] = variable.entry(key)
                    self.integers.add(entry)
                return index + 3, entry, variable.kind == "real_map"
            self.inputs[name] = variable.value  # used whole: the map itself, as Python shows it
            return index, name, False
        self.inputs[name] = variable.read
        self.integers.add(name)
        return index, name, variable.kind == "real"

    def _joined_atom(self, tokens: list[Token], index: int, source: str) -> tuple[int, str, bool]:
        """`receipts.total` (or `receipts["total"]`) at tokens[index]: like `_atom`; the bare
        `receipts` is the map of all its aggregates."""
        position = list(self.joined).index(source)
        variables = self.joined[source]
        if _op(tokens, index + 1) == "." and index + 2 < len(tokens):
            field: str | None = tokens[index + 2].text
        else:
            field = indexed_literal(tokens, index)
        if field is None:
            self.inputs[source] = _joined(_all_values(variables), position)
            return index, source, False
        variable = variables.get(field)
        if variable is None:
            raise UnknownVariableError(
                f"{source} has no aggregate {field}; it offers: {', '.join(variables)}"
            )
        name = f"__{source}_{field}"
        if variable.kind in ("count_map", "real_map"):
            self.inputs[name] = _joined(variable.value, position)
        else:
            self.inputs[name] = _joined(variable.read, position)
            self.integers.add(name)
        last = index + 2 if _op(tokens, index + 1) == "." else index + 3
        return last, name, variable.kind == "real"


def _joined(read: Input, position: int) -> Input:
    return lambda reading: read(reading.joined[position])


def _all_values(variables: dict[str, Variable]) -> Input:
    return lambda reading: {name: variable.value(reading) for name, variable in variables.items()}


def _selected(tokens: list[Token], index: int) -> bool:
    """`x.total` selects a field of x: that `total` is not the window variable."""
    return index > 0 and tokens[index - 1].kind == "op" and tokens[index - 1].text == "."


def _literal_comparison(
    tokens: list[Token], first: int, last: int, name: str
) -> tuple[int, int, str] | None:
    """`atom OP literal` or `literal OP atom`, standing alone between looser operators, as an
    integer compare: (first token, last token, replacement). None for anything else."""
    after = _literal_at(tokens, last + 2)
    if _op(tokens, last + 1) in COMPARISONS and after is not None:
        literal_last, scaled = after
        if _bounded(tokens, first - 1, _BEFORE) and _bounded(tokens, literal_last + 1, _AFTER):
            return first, literal_last, f"{name} {tokens[last + 1].text} {scaled}"
    if _op(tokens, first - 1) in COMPARISONS and _bounded(tokens, last + 1, _AFTER):
        for literal_first in (first - 2, first - 3):
            before = _literal_at(tokens, literal_first)
            if (
                before is not None
                and before[0] == first - 2
                and _bounded(tokens, literal_first - 1, _BEFORE)
            ):
                return literal_first, last, f"{before[1]} {tokens[first - 1].text} {name}"
    return None


def _literal_at(tokens: list[Token], index: int) -> tuple[int, str] | None:
    """A numeric literal (optionally negated) starting at tokens[index], scaled to billionths:
    (its last token, the integer's text); None when absent or not exactly scalable."""
    negative = _op(tokens, index) == "-"
    position = index + 1 if negative else index
    if position < 0 or position >= len(tokens) or tokens[position].kind != "number":
        return None
    text = tokens[position].text
    if text[-1] in "uU":
        return None
    try:
        value = Decimal(int(text, 16)) if text[:2] in ("0x", "0X") else Decimal(text)
    except (InvalidOperation, ValueError):
        return None
    scaled = value * NANO
    if abs(value) >= _EXACT_BELOW or scaled != scaled.to_integral_value():
        return None
    return position, str(-int(scaled) if negative else int(scaled))


def _op(tokens: list[Token], index: int) -> str:
    if 0 <= index < len(tokens) and tokens[index].kind == "op":
        return tokens[index].text
    return ""


def _bounded(tokens: list[Token], index: int, bounds: frozenset[str]) -> bool:
    """Whether tokens[index] is the start or end of the expression, or one of `bounds`."""
    return index < 0 or index >= len(tokens) or _op(tokens, index) in bounds


def _rebuild(source: str, tokens: list[Token], replaced: dict[int, tuple[int, str]]) -> str:
    parts = []
    previous_end = 0
    index = 0
    while index < len(tokens):
        token = tokens[index]
        gap = source[previous_end : token.start]
        parts.append(gap if not gap.strip() else " ")
        last, text = replaced.get(index, (index, token.text))
        parts.append(text)
        previous_end = tokens[last].end
        index = last + 1
    return "".join(parts)
