"""The send tier's four services wired on one bus and one database: the apps and their lifecycle.

Each service can run alone (`smsctl sendtier api|dispatch|persist|receipts`) or all together
(`make run`); either way it is built here, so the two never drift apart.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

from fastapi import FastAPI

from controlplane.bus import Bus
from controlplane.clock import Clock, system_clock
from controlplane.storage import Database
from sendtier.api.app import create_api_app
from sendtier.dispatch.app import create_dispatch_app
from sendtier.dispatch.dispatcher import Dispatcher
from sendtier.persist.app import create_persist_app
from sendtier.persist.service import PersistService
from sendtier.receipts.app import create_receipt_gateway_app
from sendtier.settings import SendTierSettings
from sendtier.suppliers.base import SupplierAdapter
from sendtier.suppliers.registry import make_adapter, make_callback_reader

ServiceName = Literal["api", "dispatch", "receipts", "persist"]
SERVICES: tuple[ServiceName, ...] = ("persist", "receipts", "dispatch", "api")


def build_service_app(
    name: ServiceName,
    settings: SendTierSettings,
    bus: Bus,
    database: Database,
    clock: Clock = system_clock,
) -> FastAPI:
    """One service's app. The caller starts the bus and migrates the database first."""
    if name == "api":
        return create_api_app(settings, bus, database, clock)
    if name == "persist":
        return create_persist_app(PersistService(settings, bus, database, clock))
    if name == "receipts":
        readers = {s.name: make_callback_reader(s) for s in settings.suppliers}
        return create_receipt_gateway_app(settings, bus, database, readers, clock)
    return _dispatch_app(settings, bus, clock)


def _dispatch_app(settings: SendTierSettings, bus: Bus, clock: Clock) -> FastAPI:
    adapters: dict[str, SupplierAdapter] = {
        s.name: make_adapter(s, clock) for s in settings.suppliers
    }
    dispatcher = Dispatcher(settings, bus, adapters, clock=clock)
    app = create_dispatch_app(dispatcher)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await dispatcher.start()
        try:
            yield
        finally:
            await dispatcher.stop()
            for adapter in adapters.values():
                await adapter.aclose()

    app.router.lifespan_context = lifespan
    return app


def listen_address(name: ServiceName, settings: SendTierSettings) -> tuple[str, int]:
    if name == "api":
        return settings.api.host, settings.api.port
    if name == "dispatch":
        return settings.dispatch.host, settings.dispatch.port
    if name == "receipts":
        return settings.receipts.host, settings.receipts.port
    return settings.persist.host, settings.persist.port
