"""A light load-time check of PromQL text: closed strings and brackets, no CEL operators.

There is no PromQL parser in Python; Prometheus judges the query when it runs (and `promtool`
in `smsctl rules test`). This catches the slips that make a rule fail every evaluation.
"""

from __future__ import annotations

from typing import Final

_PAIRS: Final = {")": "(", "]": "[", "}": "{"}
_CEL_OPERATORS: Final = {"&&": "and", "||": "or"}


def promql_problem(expr: str) -> str | None:
    """What is visibly wrong with `expr`, or None."""
    stack: list[tuple[str, int]] = []
    quote: str | None = None
    index = 0
    while index < len(expr):
        char = expr[index]
        if quote is not None:
            if char == "\\" and quote != "`":
                index += 1
            elif char == quote:
                quote = None
        elif char in "\"'`":
            quote = char
        elif char == "#":
            newline = expr.find("\n", index)
            index = len(expr) if newline == -1 else newline
            continue
        elif char in "([{":
            stack.append((char, index))
        elif char in _PAIRS:
            if not stack or stack[-1][0] != _PAIRS[char]:
                return f"unexpected `{char}` at column {index + 1}"
            stack.pop()
        elif expr.startswith(tuple(_CEL_OPERATORS), index):
            written = expr[index : index + 2]
            return f"`{written}` is CEL, not PromQL: write `{_CEL_OPERATORS[written]}`"
        index += 1
    if quote is not None:
        return f"unclosed string ({quote})"
    if stack:
        opener, position = stack[-1]
        return f"unclosed `{opener}` at column {position + 1}"
    return None
