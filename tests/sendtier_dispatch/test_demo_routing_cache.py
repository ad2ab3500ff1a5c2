"""The demo platform keeps the dispatcher's routing table, so a restart without the control
plane starts from the last one rather than the configured default routes."""

from __future__ import annotations

from pathlib import Path

from dispatch_helpers import T0, ScriptedSupplier, running, wait_for

from sendtier.dispatch import encode_routing_table
from smsplatform.bus import ROUTING, MemoryBus
from smsplatform.clock import ManualClock
from smsplatform.config.settings import BusSettings, DatabaseSettings
from smsplatform.contracts import Route, RouteEntry, RoutingTable
from testbench.demo.platform import DemoPorts, demo_platform, routing_cache_path


def test_the_demo_keeps_the_routing_table_beside_its_sqlite_database(tmp_path: Path) -> None:
    beside = DatabaseSettings(url=f"sqlite:///{tmp_path}/smsctl.db")
    mariadb = DatabaseSettings(url="mysql+pymysql://smsctl:pw@127.0.0.1/smsctl")

    assert routing_cache_path(beside) == str(tmp_path / "sendtier-routing.json")
    # The default database is var/smsctl.db: the working directory's var/, like `make run`'s.
    assert routing_cache_path(DatabaseSettings()) == "var/sendtier-routing.json"
    assert routing_cache_path(mariadb) == "var/sendtier-routing.json"


async def test_a_dispatcher_restarted_from_demo_settings_starts_from_the_last_routing_table(
    tmp_path: Path,
) -> None:
    clock = ManualClock(T0)
    database = DatabaseSettings(url=f"sqlite:///{tmp_path}/smsctl.db")
    settings = demo_platform(DemoPorts(), database, BusSettings()).settings
    cutover = RoutingTable(
        version=5,
        at=T0,
        routes=[
            Route(
                carrier="*",
                message_class="otp",
                suppliers=[RouteEntry(supplier="tencent", state="pinned", weight=1)],
            )
        ],
        changed_by="cutover",
    )
    bus = MemoryBus(clock=clock)
    await bus.start()
    tencent = [ScriptedSupplier("tencent", clock)]
    async with running(settings, bus, tencent, clock=clock) as dispatcher:
        await bus.publish(ROUTING, encode_routing_table(cutover))
        await wait_for(lambda: dispatcher.routing_table.version == 5)
    await bus.close()
    await wait_for((tmp_path / "sendtier-routing.json").exists)

    # A new process while the control plane is down: its table is on no bus.
    fresh_bus = MemoryBus(clock=clock)
    await fresh_bus.start()
    async with running(settings, fresh_bus, tencent, clock=clock) as restarted:
        in_force = restarted.routing_table
    await fresh_bus.close()

    assert in_force == cutover
