"""The send tier's four services wired on one bus and one database: the apps and their lifecycle.

Each service can run alone (`smsctl sendtier api|dispatch|persist|receipts`) or all together
(`make run`); either way it is built here, so the two never drift apart.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Literal

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from sendtier.api.app import create_api_app
from sendtier.dispatch.app import create_dispatch_app
from sendtier.dispatch.dispatcher import Dispatcher
from sendtier.persist.app import create_persist_app
from sendtier.persist.service import PersistService
from sendtier.receipts.app import create_receipt_gateway_app
from sendtier.settings import SendTierSettings
from sendtier.storage import SENDTIER_HISTORY, Database
from smsplatform.bus import Bus, make_bus
from smsplatform.clock import Clock, system_clock
from smsplatform.http.serving import Served, ServerGroup
from suppliers.base import SupplierAdapter
from suppliers.registry import make_adapter, make_callback_reader

log = logging.getLogger(__name__)

ServiceName = Literal["api", "dispatch", "receipts", "persist"]
# Start order: consumers before producers, so nothing waits on a service that is not up yet;
# they stop in reverse, front door first, so each drains what the one before it handed over.
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
    return _dispatch_app(settings, bus, database, clock)


def _dispatch_app(
    settings: SendTierSettings, bus: Bus, database: Database, clock: Clock
) -> FastAPI:
    adapters: dict[str, SupplierAdapter] = {
        s.name: make_adapter(s, clock) for s in settings.suppliers
    }
    dispatcher = Dispatcher(settings, bus, adapters, database=database, clock=clock)
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


def make_sendtier_bus(settings: SendTierSettings, clock: Clock = system_clock) -> Bus:
    """The bus the settings name, not started yet."""
    return make_bus(
        settings.bus.backend,
        url=settings.bus.url,
        stream=settings.bus.stream,
        namespace=settings.bus.namespace,
        clock=clock,
    )


@dataclass(frozen=True)
class RunningServices:
    """Services serving in this process: their URLs by name, and the bus and database they use."""

    urls: dict[str, str]
    bus: Bus
    database: Database
    group: ServerGroup
    # The persistence service's metrics when it runs here: a control plane in the same process
    # reads its receipt write latency (status-report degradation).
    persist_registry: CollectorRegistry | None = None


@asynccontextmanager
async def running_services(
    settings: SendTierSettings,
    names: Sequence[ServiceName] = SERVICES,
    *,
    clock: Clock = system_clock,
    bus: Bus | None = None,
) -> AsyncIterator[RunningServices]:
    """Serve the named services on their configured addresses until the block exits.

    Starts the settings' bus (unless `bus` is given: then its owner starts and closes it) and
    migrates the database before the first service starts. On exit the services stop in reverse
    order, each draining what it holds, and then the bus and the database are closed.
    """
    ordered = [name for name in SERVICES if name in names]
    owned_bus = bus is None
    the_bus = make_sendtier_bus(settings, clock) if bus is None else bus
    database = Database(settings.database.url)
    group: ServerGroup | None = None
    try:
        if owned_bus:
            await the_bus.start()
        await asyncio.to_thread(database.upgrade, SENDTIER_HISTORY)
        apps = {
            name: build_service_app(name, settings, the_bus, database, clock) for name in ordered
        }
        group = ServerGroup(
            [Served(name, app, *listen_address(name, settings)) for name, app in apps.items()]
        )
        urls = await group.start()  # on failure, `finally` stops those that did start
        log.info("sendtier.started services=%s bus=%s", ",".join(ordered), settings.bus.backend)
        persist = apps.get("persist")
        registry = persist.state.service.metrics.registry if persist is not None else None
        yield RunningServices(dict(urls), the_bus, database, group, registry)
    finally:
        if group is not None:
            await group.stop()
        if owned_bus:
            await the_bus.close()
        database.dispose()
        log.info("sendtier.stopped services=%s", ",".join(ordered))
