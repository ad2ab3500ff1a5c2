"""The health model: sequential delivery test, submit failures, missing receipts, balance."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from controlplane.actions.cutover_settings import HealthSettings
from controlplane.actions.health import HealthModel
from smsplatform.clock import ManualClock
from smsplatform.contracts import SupplierLog
from tests.actions_cutover.world import T0, receipt, receipts_for_one_second, submit

HEALTHY = {"aliyun": 0.97, "tencent": 0.97, "twilio": 0.97, "cmpp": 0.97}


def feed_seconds(
    model: HealthModel,
    clock: ManualClock,
    rates: dict[str, float],
    seconds: int,
    per_s: int,
    rng: random.Random,
) -> None:
    for _ in range(seconds):
        clock.advance(1.0)
        model.observe_receipts(receipts_for_one_second(clock, rates, rng, per_s), clock.now())


def receipts_until_found(model: HealthModel, clock: ManualClock, rng: random.Random) -> int:
    """Feeds aliyun receipts at 60 % delivery (peers at 97 %) until it is found unfit."""
    for count in range(1, 1000):
        clock.advance(0.1)
        now = clock.now()
        model.observe_receipts([receipt("aliyun", rng.random() < 0.6, now)], now)
        model.observe_receipts(
            [receipt("tencent", rng.random() < 0.97, now), receipt("cmpp", True, now)], now
        )
        if model.finding("aliyun", "cmcc", now) is not None:
            return count
    raise AssertionError("never found")


def test_wald_test_finds_a_delivery_fault_after_about_six_receipts() -> None:
    counts = []
    for seed in range(40):
        model = HealthModel(HealthSettings(false_alarm_horizon_s=0))
        counts.append(receipts_until_found(model, ManualClock(T0), random.Random(seed)))
    counts.sort()
    median = counts[len(counts) // 2]
    assert 4 <= median <= 9, counts


def test_false_alarm_horizon_costs_a_few_receipts_more_at_ten_per_second() -> None:
    counts = []
    for seed in range(40):
        clock = ManualClock(T0)
        model = HealthModel(HealthSettings())
        rng = random.Random(seed)
        feed_seconds(model, clock, {"aliyun": 0.97, "tencent": 0.97}, 60, 10, rng)
        counts.append(receipts_until_found(model, clock, rng))
    counts.sort()
    assert counts[len(counts) // 2] <= 25, counts


def test_steady_suppliers_are_never_found_unfit_over_an_hour_at_ten_per_second() -> None:
    clock = ManualClock(T0)
    model = HealthModel(HealthSettings())
    rng = random.Random(7)
    found = []
    for _ in range(3600):
        clock.advance(1.0)
        model.observe_receipts(receipts_for_one_second(clock, HEALTHY, rng, 10), clock.now())
        found += model.findings(clock.now())
    assert found == []


def test_delivery_fault_reads_as_rate_span_and_receipts() -> None:
    clock = ManualClock(T0)
    model = HealthModel(HealthSettings())
    rng = random.Random(3)
    feed_seconds(model, clock, HEALTHY, 30, 10, rng)
    faulty = dict(HEALTHY, aliyun=0.5)
    for _ in range(10):
        feed_seconds(model, clock, faulty, 1, 10, rng)
        finding = model.finding("aliyun", "cmcc", clock.now())
        if finding is not None:
            break
    assert finding is not None and finding.signal == "delivery"
    text = finding.describe()
    assert text.startswith("delivery ") and " receipts" in text and "(peers 9" in text
    assert finding.rate is not None and finding.rate < 0.7


def test_a_carrier_failing_for_every_supplier_is_not_blamed_on_one() -> None:
    clock = ManualClock(T0)
    model = HealthModel(HealthSettings())
    rng = random.Random(5)
    feed_seconds(model, clock, HEALTHY, 30, 10, rng)
    feed_seconds(model, clock, dict.fromkeys(HEALTHY, 0.55), 20, 10, rng)
    assert model.findings(clock.now()) == []


def test_weighted_receipts_count_as_many() -> None:
    clock = ManualClock(T0)
    model = HealthModel(HealthSettings(false_alarm_horizon_s=0))
    # Two sampled failures standing for ten each are strong evidence; two plain ones are not.
    model.observe_receipts([receipt("twilio", False, clock.now())] * 2, clock.now())
    model.observe_receipts([receipt("cmpp", False, clock.now(), weight=10.0)] * 2, clock.now())
    assert model.finding("twilio", "cmcc", clock.now()) is None
    finding = model.finding("cmpp", "cmcc", clock.now())
    assert finding is not None and finding.events == 20


def test_submit_failures_make_a_supplier_unfit_but_throttling_does_not() -> None:
    clock = ManualClock(T0)
    model = HealthModel(HealthSettings())
    for _ in range(20):
        clock.advance(0.5)
        now = clock.now()
        model.observe_submits(
            [
                submit("tencent", False, now),
                submit("tencent", True, now),
                submit("aliyun", False, now, error_class="throttled"),
                submit("aliyun", True, now),
                submit("cmpp", True, now),
            ],
            now,
        )
    finding = model.finding("tencent", "cmcc", clock.now())
    assert finding is not None and finding.signal == "submits"
    assert "submits accepted 50%" in finding.describe()
    assert model.finding("aliyun", "cmcc", clock.now()) is None


def test_accepted_submits_without_receipts_past_the_usual_delay_are_found_soon() -> None:
    clock = ManualClock(T0)
    model = HealthModel(HealthSettings(receipt_overdue_min_s=10.0))
    found_at = None
    for second in range(1, 61):
        clock.advance(1.0)
        now = clock.now()
        model.observe_submits([submit("twilio", True, now) for _ in range(5)], now)
        if second <= 20:  # each submit's receipt comes back 2 s later; then they stop
            model.observe_receipts(
                [receipt("twilio", True, now, delay_s=2.0) for _ in range(5)], now
            )
        if found_at is None and model.finding("twilio", "cmcc", now) is not None:
            found_at = second
    # The last receipt answered the submits of second 18: from then on, one overdue span (10 s)
    # later, and half of it without receipts.
    assert found_at is not None and 28 <= found_at <= 36, found_at
    finding = model.finding("twilio", "cmcc", clock.now())
    assert finding is not None and finding.signal == "receipts_missing"
    assert finding.describe().startswith("receipts missing: 0% of ")


def run_marketing_sample(sampled_share: float, otp_receipts_stop_at: int | None) -> int | None:
    """Twilio gets 8 marketing + 4 OTP submits a second; marketing receipts come back as a sample
    (weight 1/share). Returns the second "receipts missing" was first found, if ever."""
    clock = ManualClock(T0)
    model = HealthModel(HealthSettings(receipt_overdue_min_s=10.0))
    rng = random.Random(7)
    for second in range(1, 181):
        clock.advance(1.0)
        now = clock.now()
        submits = [submit("twilio", True, now, message_class="marketing") for _ in range(8)]
        submits += [submit("twilio", True, now) for _ in range(4)]
        model.observe_submits(submits, now)
        receipts = [
            receipt("twilio", True, now, message_class="marketing", weight=1 / sampled_share)
            for _ in range(8)
            if rng.random() < sampled_share
        ]
        if otp_receipts_stop_at is None or second <= otp_receipts_stop_at:
            receipts += [receipt("twilio", True, now) for _ in range(4)]
        model.observe_receipts(receipts, now)
        finding = model.finding("twilio", "cmcc", now)
        if finding is not None:
            assert finding.signal == "receipts_missing"
            return second
    return None


@pytest.mark.parametrize("sampled_share", [0.25, 0.1, 0.05])
def test_a_sample_of_marketing_receipts_is_not_taken_for_missing_receipts(
    sampled_share: float,
) -> None:
    # Most marketing receipts never come, by design: too few to tell missing from not drawn.
    assert run_marketing_sample(sampled_share, otp_receipts_stop_at=None) is None


def test_missing_receipts_of_unsampled_classes_are_still_found_during_a_sample() -> None:
    found_at = run_marketing_sample(0.25, otp_receipts_stop_at=60)
    assert found_at is not None and 60 < found_at <= 100, found_at


def test_a_supplier_out_of_balance_is_unusable_everywhere_until_its_hold_ends() -> None:
    clock = ManualClock(T0)
    model = HealthModel(HealthSettings(supplier_down_s=60.0))
    log = SupplierLog(
        supplier="aliyun",
        level="ERROR",
        code="isv.AMOUNT_NOT_ENOUGH",
        text="balance too low",
        at=clock.now(),
        fields={"error_class": "supplier_wide", "cooldown_s": 30.0},
    )
    model.observe_logs([log], clock.now())
    for carrier in ("cmcc", "ctcc", "*"):
        finding = model.finding("aliyun", carrier, clock.now())
        assert finding is not None and finding.signal == "supplier_down"
        assert "AMOUNT_NOT_ENOUGH balance too low" in finding.describe()
    clock.advance(61)
    assert model.finding("aliyun", "cmcc", clock.now()) is None


def test_old_events_replayed_by_the_bus_are_not_evidence_of_now() -> None:
    clock = ManualClock(T0)
    model = HealthModel(HealthSettings(false_alarm_horizon_s=0, recent_window_s=120))
    long_ago = clock.now() - timedelta(hours=1)
    model.observe_receipts([receipt("aliyun", False, long_ago) for _ in range(50)], clock.now())
    model.observe_submits([submit("aliyun", False, long_ago) for _ in range(50)], clock.now())
    assert model.finding("aliyun", "cmcc", clock.now()) is None
