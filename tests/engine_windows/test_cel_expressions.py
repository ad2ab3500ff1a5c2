"""CEL expressions compile once, explain syntax errors by position, and yield a rule's value."""

from __future__ import annotations

import pytest

from controlplane.engine import CelEvaluationError, CelExpression, CelSyntaxError
from controlplane.engine.cel_syntax import first_comparison_operand


def test_an_expression_compiles_once_and_evaluates_on_many_activations() -> None:
    when = CelExpression("delivery_rate < 0.90 && total >= 200")
    assert when.variables == {"delivery_rate", "total"}
    assert when.evaluate({"delivery_rate": 0.8, "total": 250}) is True
    assert when.evaluate({"delivery_rate": 0.8, "total": 20}) is False


def test_a_syntax_error_names_line_and_column_and_points_at_them() -> None:
    with pytest.raises(CelSyntaxError) as caught:
        CelExpression("delivery_rate < 0.90 &&")
    error = caught.value
    assert (error.line, error.column) == (1, 24)
    assert str(error).startswith("invalid CEL at line 1, column 24: Syntax error:")
    assert str(error).endswith("  delivery_rate < 0.90 &&\n                         ^")
    assert isinstance(error, ValueError)


def test_a_syntax_error_on_a_later_line_is_placed_on_that_line() -> None:
    with pytest.raises(CelSyntaxError) as caught:
        CelExpression("total > 10 &&\n  (p95 > 3.0 ||\n   p99 >)")
    assert (caught.value.line, caught.value.column) == (3, 9)
    assert "   p99 >)\n          ^" in str(caught.value)


def test_an_empty_expression_is_a_syntax_error() -> None:
    with pytest.raises(CelSyntaxError, match="the expression is empty"):
        CelExpression("   ")


def test_a_failing_evaluation_says_which_expression_failed_and_why() -> None:
    with pytest.raises(CelEvaluationError) as caught:
        CelExpression('error_share["E1"] > 0.1').evaluate({"error_share": {}})
    assert "'error_share[\"E1\"] > 0.1' failed: KeyError" in str(caught.value)


def test_names_bound_by_comprehensions_are_not_inputs() -> None:
    expression = CelExpression("error_share.exists(code, error_share[code] > 0.2) && total > 5")
    assert expression.variables == {"error_share", "total"}
    assert expression.bound == {"code"}


@pytest.mark.parametrize(
    ("when", "value"),
    [
        ("delivery_rate < 0.90 && total >= 200", "delivery_rate"),
        ("total >= 200 && delivery_rate < 0.90", "total"),
        ('error_share["E<1"] > 0.05', 'error_share["E<1"]'),
        ("(p95 > 5.0 || p99 > 10.0) && total > 0", "p95"),
        ("!(failure_rate >= 0.5)", "failure_rate"),
        ("double(failed) / double(total) > 0.1", "double(failed) / double(total)"),
        ("size(error_share) >= 3", "size(error_share)"),
        ("total > 0 ? failed * 2 > total : false", "total"),
        ('"E1" in error_share && error_share["E1"] != 0.0', 'error_share["E1"]'),
        ("-p95 < -1.5", "-p95"),
        ("[1, 2, total][2] > 1", "[1, 2, total][2]"),
        ("// a note with < in it\n  rate_per_s\n    < 0.5", "rate_per_s"),
        ("f(a, b < c)", "b"),
        ("'x <= y' == supplier", "'x <= y'"),
        ('r"\\d+ < x" != supplier', 'r"\\d+ < x"'),
        ("total", None),
        ('supplier.startsWith("ali")', None),
    ],
)
def test_the_value_is_the_left_operand_of_the_first_comparison(
    when: str, value: str | None
) -> None:
    assert first_comparison_operand(when) == value


def test_the_value_operand_is_compiled_on_its_own() -> None:
    value = CelExpression("failure_rate * 100.0 > 20.0 && total >= 50").value_operand()
    assert value is not None
    assert value.source == "failure_rate * 100.0"
    assert value.evaluate({"failure_rate": 0.25}) == 25.0
    assert CelExpression("true").value_operand() is None
