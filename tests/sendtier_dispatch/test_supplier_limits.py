"""Per-supplier limits: the TPS bucket, throttle back-off, and the supplier-wide cool-down."""

from __future__ import annotations

import pytest

from sendtier.dispatch.limits import (
    DOWN_COOLDOWN_S,
    THROTTLE_BACKOFF_S,
    SupplierGates,
    TokenBucket,
)
from suppliers.base import SubmitErrorClass
from suppliers.settings import SupplierSettings


def gates(**knobs: float) -> SupplierGates:
    supplier = SupplierSettings.model_validate(
        {
            "name": "alpha",
            "account": {"dialect": "cmpp", "account": "alpha", "secret": "s"},
            "base_url": "http://127.0.0.1:9",
            **knobs,
        }
    )
    return SupplierGates([supplier], now=0.0)


def test_bucket_serves_a_burst_then_spaces_reservations_at_the_rate() -> None:
    bucket = TokenBucket(rate_per_s=10, capacity=2, now=0.0)

    waits = [bucket.reserve(0.0) for _ in range(5)]

    assert waits == pytest.approx([0.0, 0.0, 0.1, 0.2, 0.3])


def test_bucket_refills_with_time_up_to_its_capacity() -> None:
    bucket = TokenBucket(rate_per_s=10, capacity=2, now=0.0)
    bucket.reserve(0.0)
    bucket.reserve(0.0)

    assert bucket.reserve(10.0) == 0.0
    assert bucket.reserve(10.0) == 0.0
    assert bucket.reserve(10.0) == pytest.approx(0.1)


def test_throttle_honours_retry_after_and_skips_only_until_then() -> None:
    limits = gates()

    skipped = limits.record("alpha", SubmitErrorClass.THROTTLED, now=100.0, retry_after_s=7.0)

    assert skipped == 7.0
    unavailable = limits.unavailable("alpha", 106.9)
    assert unavailable is not None
    assert unavailable.reason == "throttled"
    assert limits.unavailable("alpha", 107.0) is None


def test_throttle_without_retry_after_backs_off_exponentially_until_an_answer() -> None:
    limits = gates()

    steps = [limits.record("alpha", SubmitErrorClass.THROTTLED, now=0.0) for _ in range(3)]
    limits.record("alpha", None, now=10.0)  # accepted: the supplier keeps up again
    after_recovery = limits.record("alpha", SubmitErrorClass.THROTTLED, now=10.0)

    assert steps == [THROTTLE_BACKOFF_S, 2 * THROTTLE_BACKOFF_S, 4 * THROTTLE_BACKOFF_S]
    assert after_recovery == THROTTLE_BACKOFF_S


def test_supplier_wide_failure_skips_the_supplier_for_a_growing_cool_down() -> None:
    limits = gates()

    first = limits.record("alpha", SubmitErrorClass.SUPPLIER_WIDE, now=0.0)
    unavailable = limits.unavailable("alpha", DOWN_COOLDOWN_S - 1)
    second = limits.record("alpha", SubmitErrorClass.SUPPLIER_WIDE, now=DOWN_COOLDOWN_S)

    assert first == DOWN_COOLDOWN_S
    assert unavailable is not None
    assert unavailable.reason == "down"
    assert second == 2 * DOWN_COOLDOWN_S


def test_a_5xx_or_timeout_neither_backs_off_nor_clears_a_back_off() -> None:
    limits = gates()
    limits.record("alpha", SubmitErrorClass.SUPPLIER_WIDE, now=0.0)

    limits.record("alpha", SubmitErrorClass.RETRIABLE, now=1.0)
    limits.record("alpha", SubmitErrorClass.TIMEOUT, now=1.0)

    assert limits.unavailable("alpha", 2.0) is not None
    assert limits.record("alpha", SubmitErrorClass.SUPPLIER_WIDE, now=DOWN_COOLDOWN_S) == (
        2 * DOWN_COOLDOWN_S
    )
