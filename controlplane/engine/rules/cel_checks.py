"""Load-time checks of a stream rule's CEL against what its window offers.

A `when` or `value` reads the window's aggregates (`delivery_rate`, `total`, ...), its `by`
labels, and — the cross-source form — another source's aggregates for the same label set and
window as a map named after that source: `accepted >= 20 && receipts.total == 0` in a submits
rule. A name the window does not offer is a load error here rather than a failure at every
evaluation.
"""

from __future__ import annotations

from typing import Final

from controlplane.engine.aggregates import VALUES, check_labels
from controlplane.engine.cel_expr import CelExpression
from controlplane.engine.cel_syntax import tokenize
from controlplane.engine.sources import SOURCES as STREAMS

STREAM_SOURCE_NAMES: Final = frozenset(STREAMS)


class WindowVariableError(ValueError):
    """An expression reads something its window does not offer."""


def check_by(source: str, by: tuple[str, ...]) -> None:
    """`by` labels that collide with the source's aggregate names cannot be told apart in CEL."""
    check_labels(source, by)


def joined_sources(source: str, expression: CelExpression) -> frozenset[str]:
    """The other sources `expression` reads (`receipts` in `receipts.total == 0`)."""
    return (expression.variables & STREAM_SOURCE_NAMES) - {source}


def check_window_variables(source: str, by: tuple[str, ...], expression: CelExpression) -> None:
    """WindowVariableError naming each variable or joined field the window does not offer."""
    joined = joined_sources(source, expression)
    offered = VALUES[source]
    unknown = sorted(expression.variables - joined - set(offered) - set(by))
    if unknown:
        others = " / ".join(sorted(STREAM_SOURCE_NAMES - {source}))
        raise WindowVariableError(
            f"unknown variable {', '.join(unknown)} for a {source} window; it offers: "
            f"{', '.join([*offered, *by])}, and other sources' aggregates as {others}.<name>"
        )
    for other in sorted(joined):
        missing = [label for label in by if label not in STREAMS[other].label_attributes]
        if missing and STREAMS[other].label_map is None:
            raise WindowVariableError(
                f"reads {other} aggregates, but {other} events have no "
                f"{', '.join(missing)} label to match this rule's `by`"
            )
        bad = sorted(_selected_fields(expression.source, other) - set(VALUES[other]))
        if bad:
            raise WindowVariableError(
                f"{other} has no aggregate {', '.join(bad)}; it offers: {', '.join(VALUES[other])}"
            )


def _selected_fields(source_text: str, name: str) -> set[str]:
    """Fields read from map variable `name` as `name.field` or `name["field"]`."""
    tokens = tokenize(source_text)
    fields: set[str] = set()
    for index, token in enumerate(tokens[:-2]):
        if token.kind != "ident" or token.text != name:
            continue
        if index > 0 and tokens[index - 1].text == ".":
            continue  # `x.receipts` is a field of x, not the variable
        following = tokens[index + 1 : index + 4]
        if following[0].text == "." and following[1].kind == "ident":
            fields.add(following[1].text)
        elif (
            len(following) == 3
            and following[0].text == "["
            and following[1].kind == "string"
            and following[2].text == "]"
        ):
            fields.add(following[1].text.strip("'\""))
    return fields
