"""Rule expressions compiled for one window, and run on each of its label sets.

A window's expressions (the `when` of every rule on that window) are lowered once, at load
(lowering.py: the activation then holds integers only), and share one activation per label set.
Most label sets fire no rule. Where every expression is an integer condition (prefilter.py), a
round first proves them false over the whole column of label sets, and CEL runs only on the label
sets left. Otherwise a label set first runs all its expressions joined by `||`: when that is
false, every expression is false and one CEL call answered them all. Otherwise each expression
runs on its own, and one that fails (a type error, a division by zero) yields a
CelEvaluationError in its place, leaving the others' results intact.

Compile all the conditions of one window into one program: activations are per program and
label set. Values (`value:`, or a condition's left operand) are best a second program, run
only on the label sets whose conditions hold (`WindowStore.evaluate(..., label_sets=...)`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cel

from controlplane.engine.aggregates import VALUES, Reading, UnknownVariableError, check_labels
from controlplane.engine.cel_expr import CelEvaluationError, CelExpression
from controlplane.engine.labels import LabelSet
from controlplane.engine.lowering import Lowering
from controlplane.engine.prefilter import Columns, Prefilter
from controlplane.engine.specs import WindowSpec


class WindowProgram:
    """Expressions (a rule's `when`, its `value`, ...) compiled against one window's aggregates.

    `WindowStore.evaluate(program)` runs them on every label set of `spec`; results come back in
    the order of `expressions`. With `joined` sources, expressions also read the same label set
    in the same (unfiltered) window of those sources: `receipts.total == 0` in a submits rule.
    Not thread-safe (one activation is reused), like the store."""

    __slots__ = (
        "_any",
        "_context",
        "_each",
        "_integer_readers",
        "_label_positions",
        "_names",
        "_prefilter",
        "_previous",
        "_readers",
        "expressions",
        "joined",
        "lowered",
        "spec",
    )

    def __init__(
        self,
        spec: WindowSpec,
        expressions: Sequence[CelExpression],
        joined: Sequence[str] = (),
    ) -> None:
        if not expressions:
            raise ValueError("a window program needs at least one expression")
        self.spec = spec
        self.expressions = tuple(expressions)
        variables = VALUES[spec.source]
        check_labels(spec.source, spec.by)
        if spec.source in joined or len(set(joined)) != len(joined):
            raise ValueError(f"joined sources must be other sources, once each: {list(joined)}")
        unknown_sources = sorted(set(joined) - set(VALUES))
        if unknown_sources:
            raise ValueError(f"unknown joined source {', '.join(unknown_sources)}")
        # The windows of the joined sources: same labels, same span, every event.
        self.joined = tuple(WindowSpec(source, spec.by, spec.window_s) for source in joined)
        read = set().union(*(expression.variables for expression in self.expressions))
        shadowed = sorted(
            set().union(*(expression.bound for expression in self.expressions))
            & (set(variables) | set(spec.by))
        )
        if shadowed:
            raise ValueError(
                f"a comprehension binds {', '.join(shadowed)}, a window variable; rename it"
            )
        unknown = sorted(read - set(variables) - set(spec.by) - set(joined))
        if unknown:
            offered = ", ".join([*variables, *spec.by, *joined])
            raise UnknownVariableError(
                f"unknown variable {', '.join(unknown)} for a {spec.source} window; "
                f"it offers: {offered}"
            )
        lowering = Lowering(variables, {source: VALUES[source] for source in joined})
        self.lowered = tuple(lowering.lower(expression.source) for expression in self.expressions)
        try:
            self._each = [cel.compile(text) for text in self.lowered]
            # None for one expression: the expression itself is its own prefilter.
            self._any = (
                cel.compile(" || ".join(f"({text})" for text in self.lowered))
                if len(self.lowered) > 1
                else None
            )
        except ValueError as exc:  # a rewrite bug, never the author's: the source compiled
            raise AssertionError(f"lowered CEL does not compile: {self.lowered}: {exc}") from exc
        self._prefilter = Prefilter.compile(self.lowered, frozenset(lowering.integers))
        self._integer_readers = {name: lowering.inputs[name] for name in lowering.integers}
        labels = [(name, index) for index, name in enumerate(spec.by) if name in read]
        self._readers = tuple(lowering.inputs.values())
        self._label_positions = tuple(index for _, index in labels)
        self._names = (*lowering.inputs, *(name for name, _ in labels))
        self._context = cel.Context()
        # The values in _context, in _names order; a fresh object matches nothing.
        self._previous: list[Any] = [object()] * len(self._names)

    @property
    def screened(self) -> bool:
        """Whether label sets go through the column check (prefilter.py) before CEL."""
        return self._prefilter is not None

    def run_all(
        self, readings: Sequence[Reading], label_sets: Sequence[LabelSet]
    ) -> list[list[Any]]:
        """Every expression's result on each label set (a CelEvaluationError where one failed),
        in the order of `label_sets` (each read from the Reading at the same position)."""
        if self._prefilter is None:
            return [
                self._run(reading, labels)
                for reading, labels in zip(readings, label_sets, strict=True)
            ]
        # Per label set, per expression: whether it may hold (or fail), so CEL must decide.
        columns = Columns(self._integer_readers, readings)
        undecided = zip(*self._prefilter.undecided(columns), strict=True)
        # Every input is an integer one, read by the check: CEL gets the values it read.
        table = [columns[name] for name in self._names[: len(self._readers)]]
        return [
            self._run(reading, labels, which, [column[row] for column in table])
            if True in which
            else [False] * len(self._each)
            for row, (reading, labels, which) in enumerate(
                zip(readings, label_sets, undecided, strict=True)
            )
        ]

    def _run(
        self,
        reading: Reading,
        labels: LabelSet,
        which: Sequence[bool] | None = None,
        values: list[Any] | None = None,
    ) -> list[Any]:
        """Every expression's result on one label set. `which`: the expressions CEL must run,
        the others being proved false (by the prefilter); None for all. `values`: the inputs'
        values, when already read.

        The activation is one Context per program, updated from label set to label set: a
        variable whose value is the same as for the previous label set (a count of 0, a
        quantile in the same bin, a label) is not converted again."""
        context = self._context
        add = context.add_variable
        previous = self._previous
        if values is None:
            values = [read(reading) for read in self._readers]
        values.extend([labels[index] for index in self._label_positions])
        for name, value, old in zip(self._names, values, previous, strict=True):
            if value != old:
                add(name, value)
        self._previous = values
        if which is not None:
            return [
                self._run_one(index, context) if run else False for index, run in enumerate(which)
            ]
        if self._any is not None:
            try:
                if self._any.execute(context) is False:  # so no expression is true, nor fails
                    return [False] * len(self._each)
            except Exception:
                pass  # one expression fails, or is not a condition: run them one by one
        return [self._run_one(index, context) for index in range(len(self._each))]

    def _run_one(self, index: int, context: cel.Context) -> Any:
        try:
            return self._each[index].execute(context)
        except Exception as exc:
            return CelEvaluationError(self.expressions[index].source, exc)

    def __repr__(self) -> str:
        return f"WindowProgram({self.spec!r}, {[e.source for e in self.expressions]!r})"
