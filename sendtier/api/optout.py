"""The marketing opt-out list: kept in memory for the send path, stored and refreshed from the DB.

Sends read only memory. Changes made through this process are stored and seen at once; changes
made through other API replicas are seen after the next refresh.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from sendtier.storage.api_repositories import OptOutRepository

log = logging.getLogger(__name__)


class OptOutList:
    """Numbers (E.164) that opted out of a tenant's marketing."""

    def __init__(self, repository: OptOutRepository) -> None:
        self._repository = repository
        self._by_tenant: dict[str, set[str]] = {}
        # Changes made here while a refresh reads the table: re-applied over what it read.
        self._recent: list[tuple[str, str, bool]] | None = None

    def contains(self, tenant: str, phone: str) -> bool:
        numbers = self._by_tenant.get(tenant)
        return numbers is not None and phone in numbers

    async def refresh(self) -> None:
        """Reload the whole list from the database."""
        self._recent = []
        try:
            loaded = await asyncio.to_thread(self._repository.all_by_tenant)
            for tenant, phone, opted_out in self._recent:
                _apply(loaded, tenant, phone, opted_out)
        finally:
            self._recent = None
        self._by_tenant = loaded
        log.debug(
            "optout.refresh tenants=%d numbers=%d",
            len(loaded),
            sum(len(numbers) for numbers in loaded.values()),
        )

    async def add(self, tenant: str, phone: str, at: datetime, reason: str = "") -> bool:
        """Opt the number out; False when it already was."""
        added = await asyncio.to_thread(self._repository.add, tenant, phone, at, reason)
        self._remember(tenant, phone, True)
        log.info("optout.add tenant=%s phone=%s new=%s", tenant, _masked(phone), added)
        return added

    async def remove(self, tenant: str, phone: str) -> bool:
        """Opt the number back in; False when it had not opted out."""
        removed = await asyncio.to_thread(self._repository.remove, tenant, phone)
        self._remember(tenant, phone, False)
        log.info("optout.remove tenant=%s phone=%s found=%s", tenant, _masked(phone), removed)
        return removed

    def _remember(self, tenant: str, phone: str, opted_out: bool) -> None:
        _apply(self._by_tenant, tenant, phone, opted_out)
        if self._recent is not None:
            self._recent.append((tenant, phone, opted_out))


def _apply(by_tenant: dict[str, set[str]], tenant: str, phone: str, opted_out: bool) -> None:
    if opted_out:
        by_tenant.setdefault(tenant, set()).add(phone)
    elif tenant in by_tenant:
        by_tenant[tenant].discard(phone)


def _masked(phone: str) -> str:
    # Numbers are personal data: logs keep enough to tell them apart, not to dial them.
    return phone[:-8] + "****" + phone[-4:] if len(phone) > 8 else "****"
