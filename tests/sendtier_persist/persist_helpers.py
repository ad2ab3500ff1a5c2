"""Builders for send-tier persistence tests: settings, events, and a running PersistService."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sendtier.persist import PersistService
from sendtier.settings import SendTierSettings
from sendtier.storage import Database
from smsplatform.bus import Bus
from smsplatform.clock import Clock
from smsplatform.contracts import DegradationPolicy, OutboundMessage, Receipt, SubmitResult

T0 = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)
ACK_WAIT_S = 5.0


def settings_for(database_url: str, **bus: Any) -> SendTierSettings:
    return SendTierSettings.model_validate(
        {
            "database": {"url": database_url},
            "bus": {"backend": "memory", "ack_wait_s": ACK_WAIT_S, **bus},
            "persist": {"batch_events": 500},
        }
    )


def outbound(n: int, message_class: str = "otp") -> OutboundMessage:
    return OutboundMessage(
        message_id=f"m-{n:05d}",
        tenant="shop",
        phone=f"+86138{n:08d}",
        carrier="cmcc",
        message_class=message_class,  # type: ignore[arg-type]
        sign_name="商城",
        template_id="login",
        template_params={"code": "1234"},
        content="【商城】您的验证码是1234",
        segments=1,
        accepted_at=T0 + timedelta(milliseconds=n),
    )


def submit_result(n: int, **changes: Any) -> SubmitResult:
    fields: dict[str, Any] = {
        "message_id": f"m-{n:05d}",
        "supplier": "aliyun-main",
        "carrier": "cmcc",
        "message_class": "otp",
        "accepted": True,
        "latency_ms": 30.0,
        "at": T0 + timedelta(seconds=1, milliseconds=n),
        "supplier_message_id": f"biz-{n}",
    }
    return SubmitResult(**{**fields, **changes})


def receipt(
    n: int, status: str = "DELIVERED", message_class: str = "otp", seconds: float = 5
) -> Receipt:
    return Receipt(
        message_id=f"m-{n:05d}",
        supplier="aliyun-main",
        carrier="cmcc",
        message_class=message_class,  # type: ignore[arg-type]
        status=status,  # type: ignore[arg-type]
        submitted_at=T0 + timedelta(seconds=1),
        reported_at=T0 + timedelta(seconds=seconds),
        raw_status="DELIVERED" if status == "DELIVERED" else "UNDELIV",
        received_at=T0 + timedelta(seconds=seconds + 1),
    )


def policy(
    version: int, level: str, sample_ratio: float = 1.0, **changes: Any
) -> DegradationPolicy:
    return DegradationPolicy(
        version=version,
        at=T0,
        level=level,  # type: ignore[arg-type]
        sample_ratio=sample_ratio,
        **changes,
    )


@asynccontextmanager
async def running(
    settings: SendTierSettings, bus: Bus, database: Database, clock: Clock
) -> AsyncIterator[PersistService]:
    """A started service; leaving the block drains what is on the bus to storage."""
    service = PersistService(settings, bus, database, clock)
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


def metric(service: PersistService, name: str, **labels: str) -> float:
    value = service.metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value
