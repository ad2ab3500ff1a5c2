"""Events and tables for cut-over tests: receipts and submits at a steady rate on a ManualClock."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta

from controlplane.actions.cutover_settings import CutoverSettings, InitialRoute
from smsplatform.clock import ManualClock
from smsplatform.contracts import MessageClass, Receipt, SubmitResult

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
SUPPLIERS = ("aliyun", "tencent", "twilio", "cmpp")
WEIGHTS = {"aliyun": 40.0, "tencent": 30.0, "twilio": 10.0, "cmpp": 20.0}
CARRIERS = ("cmcc", "cucc")
_ids = itertools.count()


def routes(weights: dict[str, float] | None = None) -> list[InitialRoute]:
    return [
        InitialRoute(carrier=carrier, message_class=cls, suppliers=dict(weights or WEIGHTS))
        for carrier in CARRIERS
        for cls in ("otp", "marketing")
    ]


def cutover_settings(**overrides: object) -> CutoverSettings:
    raw: dict[str, object] = {
        "routes": [r.model_dump() for r in routes()],
        "safety": {"min_dwell_s": 5.0, "max_ejected_share": 0.5},
        "failback": {"cooldown_s": 60.0, "window_s": 20.0},
    }
    raw.update(overrides)
    return CutoverSettings.model_validate(raw)


def one_route(
    suppliers: dict[str, float], carrier: str = "cmcc", **overrides: object
) -> CutoverSettings:
    """Settings with a single otp route over `suppliers`."""
    route = {"carrier": carrier, "message_class": "otp", "suppliers": suppliers}
    return cutover_settings(routes=[route], **overrides)


def receipt(
    supplier: str,
    delivered: bool,
    at: datetime,
    carrier: str = "cmcc",
    message_class: MessageClass = "otp",
    delay_s: float = 2.0,
    weight: float = 1.0,
) -> Receipt:
    return Receipt(
        message_id=f"m{next(_ids)}",
        supplier=supplier,
        carrier=carrier,
        message_class=message_class,
        status="DELIVERED" if delivered else "FAILED",
        submitted_at=at - timedelta(seconds=delay_s),
        reported_at=at,
        received_at=at,
        weight=weight,
    )


def submit(
    supplier: str,
    accepted: bool,
    at: datetime,
    carrier: str = "cmcc",
    error_class: str | None = "retriable",
    message_class: MessageClass = "otp",
) -> SubmitResult:
    return SubmitResult(
        message_id=f"m{next(_ids)}",
        supplier=supplier,
        carrier=carrier,
        message_class=message_class,
        accepted=accepted,
        latency_ms=20.0,
        at=at,
        error_code=None if accepted else "500",
        error_class=None if accepted else error_class,
    )


def receipts_for_one_second(
    clock: ManualClock,
    rates: dict[str, float],
    rng: random.Random,
    per_s: int,
    carrier: str = "cmcc",
) -> list[Receipt]:
    """One second of receipts per supplier, each delivered with its rate."""
    now = clock.now()
    return [
        receipt(supplier, rng.random() < rate, now, carrier)
        for supplier, rate in rates.items()
        for _ in range(per_s)
    ]
