"""Channels built from alerting.yaml text, as the service builds them, sent through `deliver`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import httpx

from controlplane.alerting.channels import (
    ChannelServices,
    build_receivers,
    oncall_recipients,
)
from controlplane.alerting.config import parse_alerting_config
from controlplane.alerting.pipeline.delivery import Delivery, deliver
from notifiers.base import Notification
from smsplatform.clock import ManualClock

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
ROUTE = """
route:
  receiver: {receiver}
"""


async def no_sleep(_: float) -> None:
    return None


@asynccontextmanager
async def receiver_sender(
    alerting_yaml: str,
    receiver: str,
    clock: ManualClock,
    services: ChannelServices | None = None,
) -> AsyncIterator[Callable[[Notification], Awaitable[Delivery]]]:
    """Load the config strictly and build its receivers once (their budgets live as long);
    yields what delivers one notification to `receiver` as the alerting stage does."""
    config = parse_alerting_config(ROUTE.format(receiver=receiver) + alerting_yaml)
    async with httpx.AsyncClient(timeout=5.0) as client:
        built = build_receivers(
            config.receivers, clock, services or ChannelServices(), client, config.templates
        )
        recipients = oncall_recipients(config.oncall, clock)

        async def send(notification: Notification) -> Delivery:
            channels = built[receiver].channels
            return await deliver(channels, notification, clock, no_sleep, recipients)

        yield send


async def send_through(
    alerting_yaml: str,
    receiver: str,
    notification: Notification,
    clock: ManualClock,
    services: ChannelServices | None = None,
) -> Delivery:
    """One notification to `receiver` of a freshly loaded config."""
    async with receiver_sender(alerting_yaml, receiver, clock, services) as send:
        return await send(notification)
