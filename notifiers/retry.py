"""Sending one notification with retries: exponential backoff, jitter, and `retry_after_s`."""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable

from notifiers.base import Notification, Notifier, NotifyResult, Outcome
from smsplatform.clock import Clock

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


def backoff_delay(
    attempt: int, base_delay_s: float, max_delay_s: float, jitter: Callable[[], float]
) -> float:
    """Delay after failed attempt number `attempt` (1-based): base·2^(n-1), capped, "equal jitter".

    Half the delay is fixed and half random, so many senders spread out yet none retries at once.
    """
    ceiling = min(max_delay_s, base_delay_s * 2.0 ** (attempt - 1))
    return ceiling / 2 + jitter() * ceiling / 2


async def send_with_retry(
    notifier: Notifier,
    notification: Notification,
    *,
    attempts: int,
    base_delay_s: float,
    max_delay_s: float,
    sleep: Sleep,
    clock: Clock,
    jitter: Callable[[], float] = random.random,
) -> NotifyResult:
    """Send until delivered, failed, or `attempts` run out; then the last RETRY result.

    A service's `retry_after_s` (a rate-limit block, `Retry-After`) is a floor on the wait, and
    repeated rate-limit answers double it: a robot that is still blocked stays blocked for longer.
    A rate-limit answer is never final: when attempts run out the caller gets RETRY back, to fall
    back to the next channel or fold the notification into a digest.
    """
    if attempts < 1:
        raise ValueError("send_with_retry: attempts must be >= 1")
    started = clock.monotonic()
    result = await notifier.send(notification)
    rate_limited = 0
    for attempt in range(1, attempts):
        if result.outcome is not Outcome.RETRY:
            break
        delay = backoff_delay(attempt, base_delay_s, max_delay_s, jitter)
        if result.retry_after_s is not None:
            rate_limited += 1
            delay = max(delay, result.retry_after_s * 2.0 ** (rate_limited - 1))
        log.info(
            "notify retry channel=%s receiver=%s group_key=%s attempt=%d code=%s delay_s=%.3f",
            result.channel,
            notification.receiver,
            notification.group_key,
            attempt,
            result.error_code,
            delay,
        )
        await sleep(delay)
        result = await notifier.send(notification)
    log.info(
        "notify done channel=%s receiver=%s outcome=%s code=%s elapsed_s=%.3f",
        result.channel,
        notification.receiver,
        result.outcome,
        result.error_code,
        clock.monotonic() - started,
    )
    return result
