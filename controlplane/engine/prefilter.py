"""Proves, one column of label sets at a time, that none of a window's conditions holds.

Most label sets fire no rule, and CEL costs ~6 µs per label set even when nothing holds (the
`cel` binding rebuilds its environment after every `add_variable`, then interprets the joined
conditions). After lowering, typical conditions are integer comparisons joined by `&&`/`||`:
`delivery_rate < 900000000 && total >= 200`, `expired > total / 20`. For a program whose every
condition is of that form, this module evaluates them over whole columns (one list of values per
input, across the window's label sets), with C-level `map(operator.lt, ...)` where it can. A label
set every condition is false on is answered without CEL; every other one goes to CEL, which
decides every true result and every error.

Soundness rests on one rule: this check may only say "false" where CEL says false. It accepts
only int inputs and int literals, comparisons, `+ - * / %`, unary `-`, `!`, `&&`, `||` and
parentheses, with CEL's static types (an expression that mixes types is not accepted). Where CEL
could fail at run time (a division by zero, an int64 overflow) a value is None, and None spreads
through every operator, so such a label set always goes to CEL. Anything else in an expression
(doubles, strings, labels, maps, functions, `?:`, `in`) makes the program skip this check.
Inputs are taken to be int64s, as aggregates are (a real in billionths stays below 2**63 up to
9.2·10⁹ seconds or milliseconds).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from controlplane.engine.aggregates import Reading
from controlplane.engine.cel_syntax import COMPARISONS, Token, tokenize
from controlplane.engine.lowering import Input

Column = list[Any]  # one value per label set: an int, a bool, or None where CEL might fail

_INT_MIN: Final = -(2**63)
_INT_MAX: Final = 2**63 - 1
_COMPARE: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


class Columns:
    """A program's integer inputs over one round's label sets, each read on first use."""

    __slots__ = ("_columns", "_readers", "readings")

    def __init__(self, readers: Mapping[str, Input], readings: Sequence[Reading]) -> None:
        self._readers = readers
        self.readings = readings
        self._columns: dict[str, Column] = {}

    def __getitem__(self, name: str) -> Column:
        column = self._columns.get(name)
        if column is None:
            column = self._columns[name] = list(map(self._readers[name], self.readings))
        return column


Evaluate = Callable[[Columns], Column]


@dataclass(frozen=True, slots=True)
class _Node:
    type: Literal["int", "bool"]
    may_fail: bool  # whether a value can be None (where CEL could raise)
    evaluate: Evaluate
    literal: int | None = None  # the value of an int literal (folded into its parent)


class _Unsupported(Exception):
    """The expression uses something this check does not model: CEL answers every label set."""


class Prefilter:
    """The conditions of one program, compiled for `undecided`; None from `compile` when any
    condition is outside the supported forms."""

    __slots__ = ("_conditions",)

    def __init__(self, conditions: list[_Node]) -> None:
        self._conditions = conditions

    @classmethod
    def compile(cls, lowered: Sequence[str], integer_inputs: frozenset[str]) -> Prefilter | None:
        try:
            conditions = [_Parser(tokenize(text), integer_inputs).parse() for text in lowered]
        except _Unsupported:
            return None
        if any(condition.type != "bool" for condition in conditions):
            return None  # a value program (`p95`): its results are not proved false
        return cls(conditions)

    def undecided(self, columns: Columns) -> list[list[bool]]:
        """Per condition, per label set: False where the condition is false (CEL would say so
        too); True where it may hold or fail, so CEL must run it."""
        undecided = []
        for condition in self._conditions:
            column = condition.evaluate(columns)
            if condition.may_fail:
                column = [value is not False for value in column]
            undecided.append(column)
        return undecided


class _Parser:
    """Recursive descent over CEL's precedence: `||` < `&&` < comparisons < `+ -` < `* / %` <
    unary. Raises _Unsupported on anything else (the tokens left over included)."""

    def __init__(self, tokens: list[Token], integer_inputs: frozenset[str]) -> None:
        self._tokens = tokens
        self._inputs = integer_inputs
        self._at = 0

    def parse(self) -> _Node:
        node = self._or()
        if self._at != len(self._tokens):
            raise _Unsupported
        return node

    def _peek(self) -> str:
        if self._at < len(self._tokens) and self._tokens[self._at].kind == "op":
            return self._tokens[self._at].text
        return ""

    def _chain(
        self,
        ops: frozenset[str],
        operand: Callable[[], _Node],
        combine: Callable[[str, _Node, _Node], _Node],
    ) -> _Node:
        """`operand (op operand)*`, left-associative, for one precedence level."""
        node = operand()
        while (op := self._peek()) in ops:
            self._at += 1
            node = combine(op, node, operand())
        return node

    def _or(self) -> _Node:
        return self._chain(frozenset({"||"}), self._and, _logical)

    def _and(self) -> _Node:
        return self._chain(frozenset({"&&"}), self._comparison, _logical)

    def _comparison(self) -> _Node:
        node = self._sum()
        if self._peek() in COMPARISONS:
            op = self._tokens[self._at].text
            self._at += 1
            node = _compare(_COMPARE[op], node, self._sum())
        return node

    def _sum(self) -> _Node:
        return self._chain(frozenset({"+", "-"}), self._product, _arithmetic)

    def _product(self) -> _Node:
        return self._chain(frozenset({"*", "/", "%"}), self._unary, _arithmetic)

    def _unary(self) -> _Node:
        op = self._peek()
        if op == "!":
            self._at += 1
            return _negation(self._unary())
        if op == "-":
            self._at += 1
            operand = self._unary()
            if operand.literal is not None:
                return _literal(-operand.literal)
            return _arithmetic("-", _literal(0), operand)
        return self._primary()

    def _primary(self) -> _Node:
        if self._at >= len(self._tokens):
            raise _Unsupported
        token = self._tokens[self._at]
        self._at += 1
        if token.kind == "number":
            return _literal(_int_literal(token.text))
        if token.kind == "ident" and token.text in self._inputs:
            name = token.text
            return _Node("int", False, lambda columns: columns[name])
        if token.kind == "op" and token.text == "(":
            node = self._or()
            if self._peek() != ")":
                raise _Unsupported
            self._at += 1
            return node
        raise _Unsupported


def _int_literal(text: str) -> int:
    """A CEL int literal's value; doubles, uints and out-of-range ints are not modelled."""
    try:
        value = int(text, 16) if text[:2] in ("0x", "0X") else int(text)
    except ValueError:
        raise _Unsupported from None
    if value > _INT_MAX + 1:  # (2**63 only as the operand of a unary minus)
        raise _Unsupported
    return value


def _literal(value: int) -> _Node:
    if not _INT_MIN <= value <= _INT_MAX + 1:
        raise _Unsupported
    return _Node("int", False, lambda columns: [value] * len(columns.readings), value)


def _typed(node: _Node, wanted: str) -> _Node:
    if node.type != wanted or (node.literal is not None and node.literal > _INT_MAX):
        raise _Unsupported  # CEL rejects it (no such overload), or the literal overflows
    return node


def _compare(op: Callable[[Any, Any], bool], left: _Node, right: _Node) -> _Node:
    left, right = _typed(left, "int"), _typed(right, "int")
    if left.may_fail or right.may_fail:
        return _Node("bool", True, _pairwise(_lift(op), left, right))
    return _Node("bool", False, _pairwise(op, left, right))


def _logical(op: str, left: _Node, right: _Node) -> _Node:
    left, right = _typed(left, "bool"), _typed(right, "bool")
    pure = operator.and_ if op == "&&" else operator.or_
    if left.may_fail or right.may_fail:
        # Strict: CEL's short cuts (false && error is false) are CEL's to take.
        return _Node("bool", True, _pairwise(_lift(pure), left, right))
    return _Node("bool", False, _pairwise(pure, left, right))


def _negation(operand: _Node) -> _Node:
    operand = _typed(operand, "bool")
    evaluate = operand.evaluate
    if operand.may_fail:
        return _Node(
            "bool", True, lambda columns: [None if v is None else not v for v in evaluate(columns)]
        )
    return _Node("bool", False, lambda columns: list(map(operator.not_, evaluate(columns))))


def _arithmetic(op_text: str, left: _Node, right: _Node) -> _Node:
    left, right = _typed(left, "int"), _typed(right, "int")
    op = _ARITHMETIC[op_text]
    unchecked = _BY_SAFE_LITERAL.get(op)
    if unchecked is not None and right.literal not in (None, 0, -1) and not left.may_fail:
        return _Node("int", False, _pairwise(unchecked, left, right))
    return _Node("int", True, _pairwise(op, left, right))


def _pairwise(op: Callable[[Any, Any], Any], left: _Node, right: _Node) -> Evaluate:
    left_of, right_of = left.evaluate, right.evaluate
    return lambda columns: list(map(op, left_of(columns), right_of(columns)))


def _lift(op: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """`op` where either operand may be None (CEL might fail there): None in, None out."""
    return lambda left, right: None if left is None or right is None else op(left, right)


def _in_range(value: int) -> int | None:
    return value if _INT_MIN <= value <= _INT_MAX else None  # CEL raises on int64 overflow


def _checked_add(left: int | None, right: int | None) -> int | None:
    return None if left is None or right is None else _in_range(left + right)


def _checked_subtract(left: int | None, right: int | None) -> int | None:
    return None if left is None or right is None else _in_range(left - right)


def _checked_multiply(left: int | None, right: int | None) -> int | None:
    return None if left is None or right is None else _in_range(left * right)


def _divide(left: int, right: int) -> int:
    """CEL's int division: truncates toward zero."""
    quotient = abs(left) // abs(right)
    return quotient if (left < 0) == (right < 0) else -quotient


def _modulo(left: int, right: int) -> int:
    """CEL's int remainder: takes the dividend's sign."""
    return left - right * _divide(left, right)


def _checked_divide(left: int | None, right: int | None) -> int | None:
    if left is None or right is None or right == 0:
        return None  # CEL fails on a division by zero
    return _in_range(_divide(left, right))


def _checked_modulo(left: int | None, right: int | None) -> int | None:
    if left is None or right is None or right == 0 or (right == -1 and left == _INT_MIN):
        return None  # by zero, or the remainder of a quotient that overflows
    return _modulo(left, right)


_ARITHMETIC: Final[dict[str, Callable[[Any, Any], int | None]]] = {
    "+": _checked_add,
    "-": _checked_subtract,
    "*": _checked_multiply,
    "/": _checked_divide,
    "%": _checked_modulo,
}
# `total / 20`: a quotient or remainder by a literal other than 0 and -1 is never larger than
# the dividend, so it cannot fail where the dividend does not, and needs no checks.
_BY_SAFE_LITERAL: Final[dict[Callable[[Any, Any], int | None], Callable[[int, int], int]]] = {
    _checked_divide: _divide,
    _checked_modulo: _modulo,
}
