"""A sampled receipt counts as 1/sample_ratio receipts: windows read the same as on every receipt.

Under status-report degradation the receipt gateway publishes a sample of marketing receipts
(kept when the hash of the message id falls below the ratio, as the send tier decides), each
with weight 1/ratio. The tests feed one traffic history twice, whole and sampled at 0.25, and
compare what rules see. Sampling only marketing receipts at ratio r leaves an estimate of any
count C_m (its marketing part) with variance C_m·(1−r)/r; the tolerances below are four standard
deviations of that, so each fails a correct implementation about once in 16,000 histories, and the
seeded history makes each run the same.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Iterator, Sequence
from datetime import timedelta

import pytest
from ddsketch import DDSketch
from msgspec.structs import replace
from prometheus_client import CollectorRegistry
from window_events import T0, clock_at_t0

from controlplane.engine import WindowSpec, WindowStore, decode_partials, encode_partials
from controlplane.engine.alerts import AlertState
from controlplane.engine.promql import PrometheusClient, RuleEvaluationMetrics
from controlplane.engine.rules.loader import load_rules_text
from controlplane.engine.rules.model import RuleSet
from controlplane.engine.runtime.alert_log import UnsavedAlertLog
from controlplane.engine.runtime.evaluator import RuleEvaluator
from controlplane.engine.runtime.sink import AlertNotice
from sendtier.persist.degradation import sample_point
from smsplatform.clock import ManualClock
from smsplatform.contracts import Receipt

RATIO = 0.25
WEIGHT = 1 / RATIO
SUPPLIERS = ("aliyun", "tencent", "twilio")
FAULTY = "tencent"  # delivers 55% from FAULT_AT_S on
FAULT_AT_S = 60
SECONDS = 120
PER_SECOND = 60  # receipts per supplier per second
CLASSES = ("marketing", "marketing", "notification", "otp")
WINDOW = WindowSpec("receipts", ("supplier",), window_s=60)
DELIVERY_RULE = """
groups:
  - name: delivery
    interval: 5s
    rules:
      - alert: SupplierDeliveryRateLow
        source: receipts
        by: [supplier]
        window: 60s
        when: delivery_rate < 0.90 && total >= 200
        for: 10s
"""


def traffic(seed: int = 11) -> Iterator[tuple[int, list[Receipt]]]:
    """Each second's receipts: half marketing, which delivers worse than the rest (so a count
    that ignored weights would show a better rate); a supplier fault from FAULT_AT_S on."""
    rng = random.Random(seed)
    for second in range(SECONDS):
        batch = []
        for supplier in SUPPLIERS:
            for index in range(PER_SECOND):
                message_class = rng.choice(CLASSES)
                if supplier == FAULTY and second >= FAULT_AT_S:
                    health = 0.55
                else:
                    health = 0.88 if message_class == "marketing" else 0.99
                delivered = rng.random() < health
                submitted = T0 + timedelta(seconds=second)
                batch.append(
                    Receipt(
                        message_id=f"{supplier}-{second}-{index}",
                        supplier=supplier,
                        carrier="cmcc",
                        message_class=message_class,  # type: ignore[arg-type]
                        status="DELIVERED" if delivered else rng.choice(["FAILED", "EXPIRED"]),
                        submitted_at=submitted,
                        reported_at=submitted + timedelta(seconds=rng.lognormvariate(0.5, 0.7)),
                        error_code=None if delivered else rng.choice(["E1", "E2"]),
                    )
                )
        yield second, batch


def sampled(receipts: Sequence[Receipt]) -> list[Receipt]:
    """What the gateway publishes under `sample` degradation at RATIO."""
    return [
        receipt if receipt.message_class != "marketing" else replace(receipt, weight=WEIGHT)
        for receipt in receipts
        if receipt.message_class != "marketing" or sample_point(receipt.message_id) < RATIO
    ]


def windows_after_history(sample: bool) -> WindowStore:
    clock = clock_at_t0()
    store = WindowStore(clock)
    store.register(WINDOW)
    for _, batch in traffic():
        store.add_batch("receipts", sampled(batch) if sample else batch)
        clock.advance(1)
    return store


def marketing_in_window(supplier: str) -> list[Receipt]:
    """The supplier's marketing receipts of the window's last 60 seconds (the sampled ones)."""
    return [
        receipt
        for second, batch in traffic()
        if second >= SECONDS - WINDOW.window_s
        for receipt in batch
        if receipt.supplier == supplier and receipt.message_class == "marketing"
    ]


def four_sigma(squares: float) -> float:
    """Four standard deviations of a sum estimated from a RATIO sample, where `squares` is the
    sum over the sampled population of each item's squared contribution."""
    return 4 * math.sqrt(squares * (1 - RATIO) / RATIO)


def test_sampled_receipts_give_the_delivery_rate_and_counts_of_the_full_stream() -> None:
    full = windows_after_history(sample=False).aggregates(WINDOW)
    weighted = windows_after_history(sample=True).aggregates(WINDOW)
    assert set(full) == set(weighted) == {(supplier,) for supplier in SUPPLIERS}
    for (supplier,), exact in full.items():
        estimate = weighted[(supplier,)]
        marketing = marketing_in_window(supplier)
        assert isinstance(estimate["total"], int)
        assert abs(estimate["total"] - exact["total"]) <= four_sigma(len(marketing))
        for status, name in (("DELIVERED", "delivered"), ("FAILED", "failed")):
            with_status = sum(receipt.status == status for receipt in marketing)
            assert abs(estimate[name] - exact[name]) <= four_sigma(with_status)
        # The rate's error, to first order: each sampled receipt moves it by (d − rate) / total.
        rate = exact["delivery_rate"]
        squares = sum(((receipt.status == "DELIVERED") - rate) ** 2 for receipt in marketing)
        assert abs(estimate["delivery_rate"] - rate) <= four_sigma(squares) / exact["total"]
        assert estimate["p95"] == pytest.approx(exact["p95"], rel=0.1)


def test_a_window_of_sampled_receipts_alone_counts_each_as_its_weight() -> None:
    clock = clock_at_t0()
    store = WindowStore(clock)
    store.register(WINDOW)
    store.add_batch(
        "receipts",
        [
            Receipt(
                message_id=f"m{index}",
                supplier="aliyun",
                carrier="cmcc",
                message_class="marketing",
                status="DELIVERED" if index % 3 else "FAILED",
                submitted_at=T0,
                reported_at=T0 + timedelta(seconds=1 + index),
                error_code=None if index % 3 else "E7",
                weight=WEIGHT,
            )
            for index in range(30)
        ],
    )
    clock.advance(1)
    aggregates = store.aggregates(WINDOW)[("aliyun",)]
    assert (aggregates["total"], aggregates["delivered"], aggregates["failed"]) == (120, 80, 40)
    # Rates are kept in billionths (aggregates.py).
    assert aggregates["delivery_rate"] == pytest.approx(80 / 120, abs=1e-9)
    assert aggregates["error_share"] == {"E7": pytest.approx(40 / 120, abs=1e-9)}
    assert aggregates["rate_per_s"] == 120 / 60
    sketch = DDSketch(relative_accuracy=0.01)
    for index in range(30):
        sketch.add(1 + index, WEIGHT)
    assert [aggregates[name] for name in ("p50", "p95", "p99")] == [
        pytest.approx(sketch.get_quantile_value(quantile), abs=1e-9)
        for quantile in (0.5, 0.95, 0.99)
    ]


def test_weighted_buckets_leave_the_window_without_a_trace() -> None:
    clock = clock_at_t0()
    store = WindowStore(clock)
    store.register(WINDOW)
    odd_weight = Receipt(
        message_id="m1",
        supplier="aliyun",
        carrier="cmcc",
        message_class="marketing",
        status="DELIVERED",
        submitted_at=T0,
        reported_at=T0 + timedelta(seconds=2),
        weight=1 / 0.3,
    )
    for _ in range(7):
        store.add_batch("receipts", [odd_weight] * 3)
        clock.advance(1)
    clock.advance(WINDOW.window_s)
    store.add_batch("receipts", [replace(odd_weight, weight=1.0)])
    clock.advance(1)
    aggregates = store.aggregates(WINDOW)[("aliyun",)]
    assert (aggregates["total"], aggregates["delivered"], aggregates["p50"]) == (
        1,
        1,
        pytest.approx(2.0, rel=0.01),
    )


def test_weighted_counts_travel_in_partial_buckets_unchanged() -> None:
    _, first_second = next(traffic())
    replica = WindowStore(clock_at_t0(), export_partials=True)
    replica.register(WINDOW)
    replica.add_batch("receipts", sampled(first_second))
    payload = encode_partials(replica.take_partials(T0 + timedelta(seconds=1)))
    leader = WindowStore(ManualClock(T0 + timedelta(seconds=1)))
    leader.register(WINDOW)
    leader.merge_partials(decode_partials(payload))
    local = WindowStore(clock_at_t0())
    local.register(WINDOW)
    local.add_batch("receipts", sampled(first_second))
    assert leader.aggregates(WINDOW, T0 + timedelta(seconds=1)) == local.aggregates(
        WINDOW, T0 + timedelta(seconds=1)
    )


class _Notices:
    def __init__(self) -> None:
        self.notices: list[AlertNotice] = []

    async def deliver(self, notices: Sequence[AlertNotice]) -> None:
        self.notices.extend(notices)


async def firing_after_history(sample: bool) -> dict[str, float | None]:
    """Supplier → the value of its firing SupplierDeliveryRateLow alert, after the history,
    with the group evaluated every 5 seconds as it is scheduled."""
    clock = clock_at_t0()
    store = WindowStore(clock)
    rule_set = RuleSet(load_rules_text(DELIVERY_RULE, "delivery.yaml"))
    with PrometheusClient("http://127.0.0.1:9") as prometheus:
        evaluator = RuleEvaluator(
            rule_set,
            store,
            UnsavedAlertLog(),
            _Notices(),
            prometheus,
            RuleEvaluationMetrics(CollectorRegistry()),
            clock,
            external_url="",
        )
        for second, batch in traffic():
            store.add_batch("receipts", sampled(batch) if sample else batch)
            clock.advance(1)
            if second % 5 == 4:
                await evaluator.evaluate_group(rule_set.groups[0])
    return {
        alert.labels["supplier"]: alert.value
        for _, alert, _ in evaluator.live_alerts()
        if alert.state is AlertState.FIRING
    }


def test_a_delivery_rate_rule_fires_on_a_supplier_fault_with_and_without_sampling() -> None:
    full = asyncio.run(firing_after_history(sample=False))
    weighted = asyncio.run(firing_after_history(sample=True))
    assert set(full) == set(weighted) == {FAULTY}
    assert full[FAULTY] is not None and weighted[FAULTY] is not None
    assert abs(weighted[FAULTY] - full[FAULTY]) < 0.05
