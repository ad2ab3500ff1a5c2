"""Events and a clock for the window tests: receipts, submits, logs and probes at known times."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from smsplatform.clock import ManualClock
from smsplatform.contracts import ProbeResult, Receipt, SubmitResult, SupplierLog

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
_ids = itertools.count()


def clock_at_t0() -> ManualClock:
    return ManualClock(T0)


def receipt(
    *,
    supplier: str = "aliyun",
    carrier: str = "cmcc",
    status: str = "DELIVERED",
    latency_s: float = 2.0,
    error_code: str | None = None,
    message_class: str = "otp",
) -> Receipt:
    submitted = T0 - timedelta(seconds=latency_s)
    return Receipt(
        message_id=f"m{next(_ids)}",
        supplier=supplier,
        carrier=carrier,
        message_class=message_class,  # type: ignore[arg-type]
        status=status,  # type: ignore[arg-type]
        submitted_at=submitted,
        reported_at=submitted + timedelta(seconds=latency_s),
        error_code=error_code,
    )


def submit(
    *,
    supplier: str = "aliyun",
    accepted: bool = True,
    latency_ms: float = 120.0,
    error_code: str | None = None,
) -> SubmitResult:
    return SubmitResult(
        message_id=f"s{next(_ids)}",
        supplier=supplier,
        carrier="cmcc",
        message_class="otp",
        accepted=accepted,
        latency_ms=latency_ms,
        at=T0,
        error_code=error_code,
    )


def supplier_log(
    *, supplier: str = "aliyun", level: str = "ERROR", code: str = "E1"
) -> SupplierLog:
    return SupplierLog(supplier=supplier, level=level, code=code, text="", at=T0)  # type: ignore[arg-type]


def probe(
    *,
    probe_name: str = "e2e",
    target: str = "aliyun",
    ok: bool = True,
    latency_ms: float = 900.0,
    region: str | None = None,
) -> ProbeResult:
    labels = {"region": region} if region is not None else {}
    return ProbeResult(
        probe=probe_name, target=target, ok=ok, at=T0, latency_ms=latency_ms, labels=labels
    )
