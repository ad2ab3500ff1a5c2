"""Window programs give every rule expression the result it has over the window's aggregates."""

from __future__ import annotations

import random

import pytest
from window_events import clock_at_t0, probe, receipt, submit, supplier_log

from controlplane.engine import (
    CelEvaluationError,
    CelExpression,
    UnknownVariableError,
    WindowSpec,
    WindowStore,
)
from smsplatform.clock import ManualClock

RECEIPTS = WindowSpec("receipts", ("supplier", "carrier"), window_s=60)

# Each is compared with the same expression evaluated by CEL on the Python aggregates.
EQUIVALENT = [
    "delivery_rate < 0.90 && total >= 5",
    "delivery_rate",
    "failure_rate * 100.0",
    "p95 > 2.0",
    "2.0 < p95",
    "p95",
    "p99 - p50",
    "-p95 < -1.5",
    "p95 >= -1",
    "rate_per_s >= 0.1 || no_data_for > 3.0",
    "no_data_for",
    'error_share["E1"] > 0.05',
    'error_share["E1"]',
    "size(error_share) >= 2",
    "error_share.exists(code, error_share[code] > 0.1)",
    "supplier == 'aliyun' && total > 0",
    "p95 > 1e7",
    "p95 > 0.1234567891",
    "p95 == p95 && p50 <= p99",
    "double(failed) / double(total)",
    "unknown > total / 10",
    "(delivery_rate) < 0.95 ? carrier : supplier",
    "[delivery_rate < 0.5, p99 > 4.0][1]",
    "delivery_rate < 0.9 // with a comment\n && total > 1",
]


def populated(clock: ManualClock, seed: int = 5) -> WindowStore:
    rng = random.Random(seed)
    store = WindowStore(clock)
    store.register(RECEIPTS)
    receipts = [
        receipt(
            supplier=supplier,
            carrier=carrier,
            status=rng.choice(["DELIVERED", "DELIVERED", "DELIVERED", "FAILED", "UNKNOWN"]),
            latency_s=rng.lognormvariate(0.7, 0.9),
            error_code=rng.choice(["E1", "E2", "E3", None]),
        )
        for supplier in ("aliyun", "tencent", "twilio")
        for carrier in ("cmcc", "cucc")
        for _ in range(rng.randint(30, 60))
    ]
    receipts += [
        receipt(supplier=supplier, carrier=carrier, status="FAILED", error_code="E1")
        for supplier in ("aliyun", "tencent", "twilio")
        for carrier in ("cmcc", "cucc")
    ]
    store.add_batch("receipts", receipts)
    clock.advance(2.5)
    return store


def test_every_expression_has_the_value_cel_gives_it_over_the_aggregates() -> None:
    store = populated(clock_at_t0())
    expressions = [CelExpression(text) for text in EQUIVALENT]
    program = store.compile(RECEIPTS, expressions)
    results = store.evaluate(program)
    aggregates = store.aggregates(RECEIPTS)
    assert set(results) == set(aggregates) and len(results) == 6
    for labels, values in aggregates.items():
        activation = dict(values)
        expected = [expression.evaluate(activation) for expression in expressions]
        assert results[labels] == expected, labels


def test_a_rule_reads_its_value_on_the_label_sets_where_its_condition_holds() -> None:
    clock = clock_at_t0()
    store = WindowStore(clock)
    store.register(RECEIPTS)
    store.add_batch(
        "receipts",
        [receipt(supplier="aliyun")] * 8
        + [receipt(supplier="aliyun", status="FAILED")] * 2
        + [receipt(supplier="tencent")] * 10,
    )
    clock.advance(1)
    when = CelExpression("delivery_rate < 0.90 && total >= 10")
    value = when.value_operand()
    assert value is not None
    conditions = store.evaluate(store.compile(RECEIPTS, [when]))
    assert conditions == {("aliyun", "cmcc"): [True], ("tencent", "cmcc"): [False]}
    active = {labels for labels, [holds] in conditions.items() if holds}
    values = store.evaluate(store.compile(RECEIPTS, [value]), label_sets=active)
    assert values == {("aliyun", "cmcc"): [0.8]}
    both = store.evaluate(store.compile(RECEIPTS, [when, value]))
    assert both == {("aliyun", "cmcc"): [True, 0.8], ("tencent", "cmcc"): [False, 1.0]}


def test_a_map_entry_the_window_never_saw_reads_zero() -> None:
    logs = WindowSpec("supplier_logs", ("supplier",), window_s=60)
    clock = clock_at_t0()
    store = populated(clock)
    store.register(logs)
    store.add_batch("supplier_logs", [supplier_log(level="ERROR", code="OUTAGE")] * 3)
    clock.advance(1)
    receipts_program = store.compile(
        RECEIPTS, [CelExpression('error_share["E404"] == 0.0 && !("E404" in error_share)')]
    )
    assert all(result == [True] for result in store.evaluate(receipts_program).values())
    logs_program = store.compile(
        logs,
        [
            CelExpression(
                'by_level["ERROR"] == 3 && by_code["OUTAGE"] == 3 && by_code["NOPE"] == 0'
            ),
            CelExpression('error_count > 2 && by_level["DEBUG"] == 0'),
        ],
    )
    assert store.evaluate(logs_program) == {("aliyun",): [True, True]}


def test_one_failing_expression_leaves_the_others_results_intact() -> None:
    store = populated(clock_at_t0())
    program = store.compile(
        RECEIPTS,
        [
            CelExpression("total > 0"),
            CelExpression("total / (total - total) > 1"),
            CelExpression('supplier + 1 == "x"'),
            CelExpression("p95 >= 0.0"),
        ],
    )
    for ok, divided, typed, quantile in store.evaluate(program).values():
        assert (ok, quantile) == (True, True)
        assert isinstance(divided, CelEvaluationError)
        assert "ZeroDivisionError" in str(divided)
        assert isinstance(typed, CelEvaluationError)


def test_label_sets_with_equal_and_different_values_each_get_their_own_results() -> None:
    spec = WindowSpec("probes", ("target",), window_s=60)
    clock = clock_at_t0()
    store = WindowStore(clock)
    store.register(spec)
    store.add_batch(
        "probes",
        [probe(target="a")] * 3
        + [probe(target="b")] * 3
        + [probe(target="c", ok=False)] * 5
        + [probe(target="d")] * 3,
    )
    clock.advance(1)
    program = store.compile(
        spec, [CelExpression("total"), CelExpression("target"), CelExpression("success_rate")]
    )
    assert store.evaluate(program) == {
        ("a",): [3, "a", 1.0],
        ("b",): [3, "b", 1.0],
        ("c",): [5, "c", 0.0],
        ("d",): [3, "d", 1.0],
    }


def test_an_unknown_variable_is_refused_at_compile_time_with_what_the_window_offers() -> None:
    store = populated(clock_at_t0())
    with pytest.raises(UnknownVariableError) as caught:
        store.compile(RECEIPTS, [CelExpression("delivry_rate < 0.9 && total > 1")])
    message = str(caught.value)
    assert message.startswith("unknown variable delivry_rate for a receipts window")
    assert "delivery_rate" in message and "carrier" in message


def test_a_comprehension_may_not_rebind_a_window_variable() -> None:
    store = populated(clock_at_t0())
    with pytest.raises(ValueError, match="binds total, a window variable"):
        store.compile(RECEIPTS, [CelExpression("error_share.exists(total, total == 'E1')")])


@pytest.mark.parametrize(
    ("text", "lowered"),
    [
        (
            "p95 > 30.0 && (failure_rate >= 0.2 || no_data_for > 60)",
            "p95 > 30000000000 && (failure_rate >= 200000000 || no_data_for > 60000000000)",
        ),
        ('error_share["E1"] < 0.5', "__error_share_0 < 500000000"),
        ("p99 / p50 > 3.0", "(double(p99) / 1e9) / (double(p50) / 1e9) > 3.0"),
    ],
)
def test_programs_compare_integers_where_the_rule_compares_with_a_literal(
    text: str, lowered: str
) -> None:
    store = populated(clock_at_t0())
    assert store.compile(RECEIPTS, [CelExpression(text)]).lowered == (lowered,)


def test_conditions_that_all_fail_to_hold_read_false_and_a_failing_one_still_reports() -> None:
    store = populated(clock_at_t0())
    quiet = store.compile(
        RECEIPTS, [CelExpression("total > 1000000"), CelExpression("p99 > 3600.0")]
    )
    assert all(results == [False, False] for results in store.evaluate(quiet).values())
    broken = store.compile(
        RECEIPTS, [CelExpression("total > 1000000"), CelExpression("total / 0 > 1")]
    )
    for never, failed in store.evaluate(broken).values():
        assert never is False and isinstance(failed, CelEvaluationError)


def test_a_rule_reads_another_sources_aggregates_for_the_same_label_set() -> None:
    submits = WindowSpec("submits", ("supplier",), window_s=60)
    clock = clock_at_t0()
    store = WindowStore(clock)
    program = store.compile(
        submits,
        [
            CelExpression("accepted >= 3 && receipts.total == 0"),
            CelExpression('receipts["delivery_rate"] < 0.75'),
            CelExpression("receipts.no_data_for"),
        ],
        joined=["receipts"],
    )
    for spec in (submits, *program.joined):
        store.register(spec)
    store.add_batch("receipts", [receipt(supplier="tencent", status="FAILED"), receipt()])
    clock.advance(30)
    store.add_batch("submits", [submit(supplier="aliyun")] * 3 + [submit(supplier="tencent")] * 3)
    clock.advance(1)
    assert store.evaluate(program) == {
        ("aliyun",): [False, False, 31.0],
        ("tencent",): [False, True, 31.0],
    }
    clock.advance(30)  # the receipts have left the window; the submits have not
    assert store.evaluate(program) == {
        ("aliyun",): [True, False, 61.0],
        ("tencent",): [True, False, 61.0],
    }


def test_a_joined_source_must_offer_what_the_rule_reads() -> None:
    store = WindowStore(clock_at_t0())
    with pytest.raises(UnknownVariableError, match="receipts has no aggregate accepted"):
        store.compile(
            WindowSpec("submits", ("supplier",), 60),
            [CelExpression("receipts.accepted > 1")],
            joined=["receipts"],
        )
    with pytest.raises(UnknownVariableError, match="unknown variable receipts"):
        store.compile(WindowSpec("submits", (), 60), [CelExpression("receipts.total > 1")])
