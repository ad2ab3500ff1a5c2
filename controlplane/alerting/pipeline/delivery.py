"""The notify stage: send through a receiver's channels in order, retrying each, falling back."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

from controlplane.alerting.pipeline.model import Channel
from notifiers.base import Notification, NotifyResult, Outcome
from notifiers.retry import send_with_retry
from smsplatform.clock import Clock

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
# Turns a channel's targets (numbers, `oncall:` targets) into phone numbers at send time.
Recipients = Callable[[Sequence[str]], tuple[str, ...]]

MAX_ATTEMPTS = 3
BASE_DELAY_S = 1.0  # WIRE.md §7.12: 1 s, 2 s, 4 s
MAX_DELAY_S = 4.0
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

    @property
    def reference(self) -> str | None:
        """The id the delivering service gave back (a voice call id), if any."""
        return self.attempts[-1].reference if self.delivered and self.attempts else None


def channel_name(channel: Channel) -> str:
    return channel.name or channel.notifier.channel


class _Gated:
    """A channel's notifier behind its budget: each attempt spends one send, none when spent.

    A spent budget or a long rate-limit block is final for this channel now, so the notification
    moves on to the next channel instead of waiting minutes inside a tick.
    """

    def __init__(self, channel: Channel, clock: Clock) -> None:
        self._channel = channel
        self._clock = clock
        self.attempts: list[NotifyResult] = []

    @property
    def channel(self) -> str:
        return self._channel.notifier.channel

    async def send(self, notification: Notification) -> NotifyResult:
        budget = self._channel.budget
        if budget is not None and not budget.take(self._clock.monotonic()):
            result = NotifyResult(
                Outcome.FAILED, self.channel, "client-side budget spent", "budget"
            )
        else:
            try:
                result = await self._channel.notifier.send(notification)
            except (
                Exception
            ) as exc:  # the protocol says results, not raises; a bug must not stop us
                result = NotifyResult(Outcome.RETRY, self.channel, detail=repr(exc))
            if result.outcome is Outcome.RETRY and (result.retry_after_s or 0) > MAX_RETRY_WAIT_S:
                result = replace(result, outcome=Outcome.FAILED)
        self.attempts.append(result)
        return result

    async def aclose(self) -> None:
        return None


async def deliver(
    channels: Sequence[Channel],
    notification: Notification,
    clock: Clock,
    sleep: Sleep,
    recipients: Recipients = tuple,
) -> Delivery:
    """Try each channel in order; the first that delivers ends it."""
    attempts: list[NotifyResult] = []
    for channel in channels:
        if notification.status == "resolved" and not channel.send_resolved:
            continue
        addressed = replace(notification, recipients=recipients(channel.targets))
        gated = _Gated(channel, clock)
        result = await send_with_retry(
            gated,
            addressed,
            attempts=MAX_ATTEMPTS,
            base_delay_s=BASE_DELAY_S,
            max_delay_s=MAX_DELAY_S,
            sleep=sleep,
            clock=clock,
        )
        attempts.extend(gated.attempts)
        name = channel_name(channel)
        if result.outcome is Outcome.DELIVERED:
            return Delivery(name, tuple(attempts))
        log.warning(
            "notify.fallback receiver=%s group=%s channel=%s outcome=%s code=%s detail=%s",
            notification.receiver,
            notification.group_key,
            name,
            result.outcome.value,
            result.error_code,
            result.detail,
        )
    return Delivery(None, tuple(attempts))
