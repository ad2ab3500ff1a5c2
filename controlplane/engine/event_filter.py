"""A rule's `filter:`: a CEL predicate over one source's events, compiled once, memoized.

A filter such as `message_class != "marketing"` reads a few categorical fields whose values
repeat across millions of events, so its verdict is memoized on the tuple of those values: the
CEL program runs once per distinct tuple, not once per event. Filters that read an id, a time, a
latency or a map run per event, against a Context holding only the fields they read. An event a
filter cannot be evaluated on (a type error, say) is left out and counted in `errors`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from operator import attrgetter
from typing import Any, Final

import cel

from controlplane.engine.cel_expr import CelEvaluationError, CelExpression
from controlplane.engine.sources import Source

log = logging.getLogger(__name__)

# Distinct field tuples remembered before the memo starts over (a bound on its memory).
MEMO_LIMIT: Final = 4096


class EventFilter:
    """Whether an event of one source passes a rule's filter."""

    __slots__ = ("_fields", "_getter", "_memo", "errors", "expression")

    def __init__(self, expression: CelExpression, source: Source) -> None:
        unknown = sorted(expression.variables - source.fields)
        if unknown:
            fields = ", ".join(sorted(source.fields))
            raise ValueError(
                f"filter reads {', '.join(unknown)}, which {source.name} events lack; "
                f"fields: {fields}"
            )
        self.expression = expression
        self._fields = tuple(sorted(expression.variables))
        self._getter: Callable[[Any], Any] = (
            attrgetter(*self._fields) if self._fields else lambda event: ()
        )
        memoizable = expression.variables <= source.categorical
        self._memo: dict[Any, bool] | None = {} if memoizable else None
        self.errors = 0

    def __call__(self, event: Any) -> bool:
        memo = self._memo
        if memo is None:
            return self._run(event)
        values = self._getter(event)
        verdict = memo.get(values)
        if verdict is None:
            if len(memo) >= MEMO_LIMIT:
                memo.clear()
            verdict = memo[values] = self._run(event)
        return verdict

    def _run(self, event: Any) -> bool:
        context = cel.Context()
        for field in self._fields:
            context.add_variable(field, getattr(event, field))
        try:
            return self.expression.evaluate(context) is True
        except CelEvaluationError as exc:
            self.errors += 1
            if self.errors == 1:  # once: a broken filter would otherwise log every event
                log.warning("event=filter_failed filter=%r error=%r", exc.source, str(exc.cause))
            return False
