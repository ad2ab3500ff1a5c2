"""The send API's parts, built from settings, and the background upkeep they need while serving."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Final

from sendtier.api.acceptance import Acceptor
from sendtier.api.auth import TenantDirectory
from sendtier.api.idempotency import IdempotencyKeys
from sendtier.api.metrics import SendApiMetrics
from sendtier.api.optout import OptOutList
from sendtier.api.status import MessageStatusView
from sendtier.settings import SendTierSettings
from sendtier.storage import Database
from sendtier.storage.api_repositories import IdempotencyKeyRepository, OptOutRepository
from smsplatform.bus import Bus
from smsplatform.clock import Clock

log = logging.getLogger(__name__)

OPTOUT_REFRESH_S: Final = 30.0
IDEMPOTENCY_PURGE_S: Final = 600.0


class SendApi:
    """Everything the HTTP handlers delegate to. The caller owns the bus and the database: it
    starts the bus and migrates the database before serving, and closes both afterwards."""

    def __init__(
        self, settings: SendTierSettings, bus: Bus, database: Database, clock: Clock
    ) -> None:
        self.settings = settings
        self.bus = bus
        self.database = database
        self.clock = clock
        self.metrics = SendApiMetrics()
        self.tenants = TenantDirectory(settings.tenants)
        self.optouts = OptOutList(OptOutRepository(database))
        self.idempotency = IdempotencyKeys(IdempotencyKeyRepository(database), clock)
        self.acceptor = Acceptor(settings, bus, clock, self.optouts, self.metrics)
        self.status = MessageStatusView(database)
        self._upkeep: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Load the opt-out list (sends must not pass it unread), then keep things fresh."""
        await self.optouts.refresh()
        self._upkeep = [
            asyncio.create_task(_every(OPTOUT_REFRESH_S, "optout_refresh", self.optouts.refresh)),
            asyncio.create_task(
                _every(IDEMPOTENCY_PURGE_S, "idempotency_purge", self.idempotency.purge_expired)
            ),
        ]
        log.info(
            "api.started tenants=%d templates=%d",
            len(self.tenants),
            len(self.settings.templates),
        )

    async def stop(self) -> None:
        for task in self._upkeep:
            task.cancel()
        for task in self._upkeep:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._upkeep = []
        log.info("api.stopped")

    async def health(self) -> dict[str, bool]:
        database_ok = await asyncio.to_thread(self.database.ping)
        return {"database": database_ok, "bus": await self.bus.healthy()}


async def _every(interval_s: float, name: str, job: Callable[[], Awaitable[object]]) -> None:
    while True:
        await asyncio.sleep(interval_s)
        try:
            await job()
        except Exception as exc:
            # Upkeep failing (say, the database is down) must not stop sends; it tries again.
            log.warning("api.upkeep_failed job=%s error=%s", name, type(exc).__name__)
