"""A notifier behind per-recipient budgets: only recipients with room left are reached."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

from notifiers.base import Notification, Notifier, NotifyResult, Outcome
from notifiers.budget import SlidingWindowBudget
from smsplatform.clock import Clock, system_clock

log = logging.getLogger(__name__)


class PerRecipientBudget:
    """Wraps a notifier that reaches each recipient separately (a voice call per callee).

    Each send spends one of every reached recipient's budget. A recipient without room is left
    out rather than sent to, since the service would refuse (voice: BUSINESS_LIMIT_CONTROL); when
    nobody has room, the send fails with `budget` so the receiver's next channel takes it.
    """

    def __init__(
        self,
        notifier: Notifier,
        budget_of: Callable[[str], SlidingWindowBudget],
        clock: Clock = system_clock,
    ) -> None:
        self._notifier = notifier
        self._budget_of = budget_of
        self._clock = clock

    @property
    def channel(self) -> str:
        return self._notifier.channel

    async def send(self, notification: Notification) -> NotifyResult:
        if not notification.recipients:
            return await self._notifier.send(notification)
        now = self._clock.monotonic()
        reached = [r for r in notification.recipients if self._budget_of(r).available(now) > 0]
        held = [r for r in notification.recipients if r not in reached]
        if held:
            log.warning(
                "notify.recipient_budget_spent channel=%s group=%s recipients=%s",
                self.channel,
                notification.group_key,
                ",".join(held),
            )
        if not reached:
            detail = f"client-side budget spent for {', '.join(held)}"
            return NotifyResult(Outcome.FAILED, self.channel, detail, "budget")
        for recipient in reached:
            self._budget_of(recipient).take(now)
        return await self._notifier.send(replace(notification, recipients=tuple(reached)))

    async def aclose(self) -> None:
        await self._notifier.aclose()
