"""The column check that answers most label sets without CEL never contradicts CEL.

It may only say "false" where CEL says false (not true, not an error); everything else goes to
CEL. Random integer expressions over random activations (edge values included: zero divisors,
int64 bounds, negatives) check that, and that it does answer most label sets of a typical round.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from functools import partial

import cel
import pytest
from test_window_programs import RECEIPTS, populated
from window_events import clock_at_t0

from controlplane.engine import CelExpression
from controlplane.engine.aggregates import Reading
from controlplane.engine.prefilter import Columns, Prefilter
from controlplane.engine.sketch import SketchMapping

INPUTS = ("a", "b", "c")
INT64_MAX = 2**63 - 1
EDGES = [0, 1, -1, 2, 7, -7, 20, 1_000_000_000, INT64_MAX, -INT64_MAX - 1, 2**62, -(2**62)]


def random_expression(rng: random.Random, depth: int = 0) -> str:
    """A boolean CEL expression of the forms the check accepts."""
    if depth < 2 and rng.random() < 0.5:
        op = rng.choice(["&&", "||"])
        left, right = random_expression(rng, depth + 1), random_expression(rng, depth + 1)
        text = f"({left}) {op} ({right})"
        return f"!({text})" if rng.random() < 0.2 else text
    op = rng.choice(["<", "<=", ">", ">=", "==", "!="])
    return f"{random_operand(rng)} {op} {random_operand(rng)}"


def random_operand(rng: random.Random, depth: int = 0) -> str:
    choice = rng.random()
    if depth < 2 and choice < 0.35:
        op = rng.choice(["+", "-", "*", "/", "%"])
        return f"({random_operand(rng, depth + 1)} {op} {random_operand(rng, depth + 1)})"
    if choice < 0.7:
        return rng.choice(INPUTS)
    value = rng.choice([*EDGES, rng.randint(-50, 50)])
    if value < 0:
        return f"-{-value}" if value != -INT64_MAX - 1 else "-9223372036854775807 - 1"
    return str(value)


def readers_of(values_of: dict[int, dict[str, int]]) -> dict[str, Callable[[Reading], int]]:
    return {
        name: partial(lambda name, reading: values_of[id(reading)][name], name) for name in INPUTS
    }


def cel_result(program: cel.Program, activation: dict[str, int]) -> object:
    try:
        return program.execute(activation)
    except Exception as exc:
        return exc


def test_the_check_says_false_only_where_cel_says_false() -> None:
    rng = random.Random(2026)
    mapping = SketchMapping()
    answered = checked = 0
    for _ in range(400):
        text = random_expression(rng)
        prefilter = Prefilter.compile([text], frozenset(INPUTS))
        assert prefilter is not None, text
        activations = [
            {name: rng.choice([*EDGES, rng.randint(-100, 100)]) for name in INPUTS}
            for _ in range(25)
        ]
        # One Reading per activation; each input's reader looks its value up by Reading.
        readings = [Reading(60, mapping) for _ in activations]
        values_of = {
            id(reading): values for reading, values in zip(readings, activations, strict=True)
        }
        [undecided] = prefilter.undecided(Columns(readers_of(values_of), readings))
        program = cel.compile(text)
        for activation, must_run in zip(activations, undecided, strict=True):
            checked += 1
            if not must_run:
                answered += 1
                assert cel_result(program, activation) is False, (text, activation)
    assert answered > checked // 4  # it decides a good share, so the test has teeth


@pytest.mark.parametrize(
    "text",
    [
        "a > 1.5",  # a double
        "a > 1u",  # a uint
        "d > 1",  # not an integer input (a label, a map)
        "a > 1 ? true : false",
        "'x' == 'x'",
        "size([a]) > 0",
        "a in [1, 2]",
        "a && b",  # ints where CEL wants bools: CEL fails, so must decide
        "a + (b > 1)",
        "a",  # a value, not a condition
        "a > 9223372036854775808",  # an int literal CEL cannot hold
    ],
)
def test_expressions_outside_the_supported_forms_leave_every_label_set_to_cel(text: str) -> None:
    assert Prefilter.compile([text], frozenset(INPUTS)) is None


INTEGER_CONDITIONS = [
    "delivery_rate < 0.90 && total >= 5",
    "p95 > 2.0",
    "2.0 < p95",
    "p95 >= -1",
    "rate_per_s >= 0.1 || no_data_for > 3.0",
    'error_share["E1"] > 0.05',
    "unknown > total / 10",
    "failed % 3 == 1 || delivered - failed > 40",
    "!(total > 45)",
    "failed / (total - total) > 1",  # a division by zero on every label set: CEL's to report
]


def test_a_program_of_integer_conditions_gives_what_cel_gives_on_the_aggregates() -> None:
    store = populated(clock_at_t0())
    expressions = [CelExpression(text) for text in INTEGER_CONDITIONS]
    program = store.compile(RECEIPTS, expressions)
    assert program.screened  # label sets go through the column check first
    results = store.evaluate(program)
    aggregates = store.aggregates(RECEIPTS)
    assert set(results) == set(aggregates) and len(results) == 6
    for labels, values in aggregates.items():
        activation = dict(values)
        for result, expression in zip(results[labels], expressions, strict=True):
            try:
                expected: object = expression.evaluate(activation)
            except Exception as exc:
                expected = type(exc)
            assert (type(result) if isinstance(result, Exception) else result) == expected, (
                labels,
                expression,
            )
