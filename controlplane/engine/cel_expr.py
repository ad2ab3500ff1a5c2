"""CEL expressions for rules: compiled once at load, evaluated many times, errors with positions.

Wraps the `cel` library (package common-expression-language); never `eval`. Measured on the
project's 2-vCPU machine: executing a compiled comparison against a ready `cel.Context` costs
~0.2–0.3 µs; building the activation costs more than that, ~0.2 µs per int and ~1 µs per float
or string variable, and a dict activation is converted whole on every call (~1.7 µs for two
variables, ~7 µs with a small map). So windows (programs.py, lowering.py) give each label set
one Context, of integers, shared by every rule on that window.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import cel

from controlplane.engine.cel_syntax import comprehension_variables, first_comparison_operand

_POSITION = re.compile(r"<input>:(\d+):(\d+): ([^\n]*)")


class CelSyntaxError(ValueError):
    """An expression that does not parse; `line` and `column` are 1-based within the expression."""

    def __init__(self, source: str, detail: str, line: int, column: int) -> None:
        lines = source.splitlines() or [""]
        shown = lines[line - 1] if 0 < line <= len(lines) else ""
        caret = " " * max(column - 1, 0) + "^"
        super().__init__(
            f"invalid CEL at line {line}, column {column}: {detail}\n  {shown}\n  {caret}"
        )
        self.source = source
        self.detail = detail
        self.line = line
        self.column = column


class CelEvaluationError(RuntimeError):
    """An expression that failed on one activation (a missing variable, a type mismatch, ...)."""

    def __init__(self, source: str, cause: Exception) -> None:
        super().__init__(f"CEL {source!r} failed: {type(cause).__name__}: {cause}")
        self.source = source
        self.cause = cause


class CelExpression:
    """One CEL expression, compiled once.

    `variables` are the names it reads from its activation (names bound by comprehension macros,
    `bound`, excluded); `evaluate` runs it against a `cel.Context` (fastest) or a mapping.
    """

    __slots__ = ("_program", "bound", "source", "variables")

    def __init__(self, source: str) -> None:
        self.source = source
        if not source.strip():
            raise CelSyntaxError(source, "the expression is empty", 1, 1)
        try:
            self._program = cel.compile(source)
        except ValueError as exc:
            raise _syntax_error(source, exc) from None
        # Names comprehension macros bind are locals of the expression, not inputs.
        self.bound = comprehension_variables(source)
        self.variables: frozenset[str] = frozenset(self._program.variables()) - self.bound

    def evaluate(self, activation: cel.Context | Mapping[str, Any] | None = None) -> Any:
        """The expression's value; CelEvaluationError when it cannot be computed."""
        try:
            return self._program.execute(activation)  # type: ignore[arg-type]
        except Exception as exc:  # cel raises KeyError, TypeError, RuntimeError, ...
            raise CelEvaluationError(self.source, exc) from exc

    def value_operand(self) -> CelExpression | None:
        """The left operand of the first comparison, compiled: a rule's `value` by default.

        `delivery_rate < 0.90 && total >= 200` → `delivery_rate`. None when the expression has
        no comparison (the rule must then name `value:` itself, or report no value).
        """
        operand = first_comparison_operand(self.source)
        return CelExpression(operand) if operand else None

    def __repr__(self) -> str:
        return f"CelExpression({self.source!r})"


def _syntax_error(source: str, exc: ValueError) -> CelSyntaxError:
    """Our error from the library's message: `... <input>:1:5: Syntax error: mismatched ...`."""
    text = str(exc)
    match = _POSITION.search(text)
    if match is None:
        return CelSyntaxError(source, text, 1, 1)
    return CelSyntaxError(source, match.group(3), int(match.group(1)), int(match.group(2)))
