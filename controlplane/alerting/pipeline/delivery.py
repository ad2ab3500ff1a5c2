"""The notify stage: send through a receiver's channels in order, retrying each, falling back."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from controlplane.alerting.pipeline.model import Channel
from controlplane.clock import Clock
from notifiers.base import Notification, NotifyResult, Outcome

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]

MAX_ATTEMPTS = 3
BACKOFF_S = (1.0, 2.0, 4.0)  # WIRE.md §7.12
# A retry that asks to wait longer than this (a rate-limit block) goes to the next channel now.
MAX_RETRY_WAIT_S = 10.0


@dataclass(frozen=True)
class Delivery:
    """How one notification went: the channel that took it (None if all failed), and why."""

    channel: str | None
    attempts: tuple[NotifyResult, ...]

    @property
    def delivered(self) -> bool:
        return self.channel is not None


def channel_name(channel: Channel) -> str:
    return channel.name or channel.notifier.channel


async def send_with_retry(
    channel: Channel, notification: Notification, clock: Clock, sleep: Sleep
) -> list[NotifyResult]:
    """Send, and again on RETRY with backoff, up to MAX_ATTEMPTS; each attempt spends budget."""
    results: list[NotifyResult] = []
    for attempt in range(MAX_ATTEMPTS):
        if channel.budget is not None:
            if channel.budget.remaining(clock.monotonic()) < 1:
                break
            channel.budget.spend(clock.monotonic())
        try:
            result = await channel.notifier.send(notification)
        except Exception as exc:  # the protocol says results, not raises; a bug must not stop us
            result = NotifyResult(Outcome.RETRY, channel.notifier.channel, detail=repr(exc))
        results.append(result)
        if result.outcome is not Outcome.RETRY:
            break
        wait = max(result.retry_after_s or 0.0, BACKOFF_S[attempt])
        if wait > MAX_RETRY_WAIT_S or attempt + 1 == MAX_ATTEMPTS:
            break
        await sleep(wait)
    return results


async def deliver(
    channels: Sequence[Channel],
    notification: Notification,
    clock: Clock,
    sleep: Sleep,
) -> Delivery:
    """Try each channel in order; the first that delivers ends it."""
    attempts: list[NotifyResult] = []
    for channel in channels:
        results = await send_with_retry(channel, notification, clock, sleep)
        attempts.extend(results)
        name = channel_name(channel)
        if results and results[-1].outcome is Outcome.DELIVERED:
            return Delivery(name, tuple(attempts))
        last = results[-1] if results else None
        log.warning(
            "notify.fallback receiver=%s group=%s channel=%s outcome=%s code=%s detail=%s",
            notification.receiver,
            notification.group_key,
            name,
            last.outcome.value if last else "no_budget",
            last.error_code if last else None,
            last.detail if last else "",
        )
    return Delivery(None, tuple(attempts))
