"""The whole system in one process, for `make run`: control plane, send tier, simulators, traffic.

The control plane and the bundled send tier share one in-process bus and one database file, the
four simulated suppliers answer where the send tier's suppliers point, and a steady background
load gives every page and metric life from the first minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping

from controlplane.actions.cutover_settings import owning_routes
from controlplane.service import ControlPlane
from controlplane.settings import Settings
from controlplane.web.app import create_app
from sendtier.stack import make_sendtier_bus, running_services
from smsplatform.http.serving import Served, ServerGroup, wait_for_signal
from testbench.demo.channels import demo_channels
from testbench.demo.platform import DemoPlatform, DemoPorts, demo_platform, running_simulators
from testbench.load import run_load
from testbench.simulators import RunningSimulator

log = logging.getLogger(__name__)
# A day: the background load runs until the system is stopped.
LOAD_DURATION_S = 24 * 3600.0


async def run_whole_system(
    settings: Settings, environ: Mapping[str, str], *, host: str, port: int, load_rate: float
) -> None:
    """Serve everything until SIGINT/SIGTERM, then stop front doors first and drain the rest."""
    platform = demo_platform(DemoPorts(), settings.database, settings.bus)
    # The send tier's persistence stores events; the control plane only watches them here.
    # It owns the routing table, starting from the send tier's default routes.
    watching = settings.model_copy(
        update={
            "ingest": settings.ingest.model_copy(update={"persist_enabled": False}),
            "cutover": owning_routes(settings.cutover, platform.settings.dispatch.default_routes),
        }
    )
    bus = make_sendtier_bus(platform.settings)
    await bus.start()
    load: asyncio.Task[object] | None = None
    try:
        async with (
            demo_channels(settings.alerting, f"http://{host}:{port}") as channels,
            running_simulators(platform.simulators) as simulators,
            running_services(platform.settings, bus=bus) as services,
        ):
            watching = watching.model_copy(update={"alerting": channels.alerting})
            control_plane = ControlPlane(
                watching, environ, bus=bus, sendtier_persist=services.persist_registry
            )
            front = ServerGroup([Served("control-plane", create_app(control_plane), host, port)])
            urls = await front.start()
            _announce(control_plane, urls["control-plane"], services.urls, simulators, platform)
            _announce_fakes(channels.fake_urls)
            if load_rate > 0:
                load = asyncio.create_task(
                    run_load(
                        services.urls["api"],
                        platform.tenant_tokens["demo"],
                        load_rate,
                        LOAD_DURATION_S,
                        batch_size=10,
                    )
                )
            signum = await wait_for_signal()
            log.info("system stopping signal=%d", signum)
            if load is not None:
                load.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await load
            await front.stop()
    finally:
        await bus.close()


def _announce(
    control_plane: ControlPlane,
    url: str,
    services: Mapping[str, str],
    simulators: Mapping[str, RunningSimulator],
    platform: DemoPlatform,
) -> None:
    lines = [f"control plane      {url}   (GET /v1/alerts, /v1/rules, /metrics, /healthz)"]
    lines.append(f"console            {url}/console   (log in with the admin token)")
    log.info("console url=%s/console", url)
    if control_plane.tokens.generated_admin_token:
        lines.append(f"admin token        {control_plane.tokens.generated_admin_token}")
    lines += [f"send tier {name:<8} {address}" for name, address in services.items()]
    lines += [f"simulator {name:<8} {sim.base_url}" for name, sim in simulators.items()]
    lines += [f"tenant {name:<11} token {token}" for name, token in platform.tenant_tokens.items()]
    print("\n".join(lines), flush=True)


def _announce_fakes(fake_urls: Mapping[str, str]) -> None:
    """Where the notifier fakes that stand in for DingTalk, WeCom, voice and webhook serve."""
    lines = [f"notifier fake {name:<8} {address}" for name, address in fake_urls.items()]
    if lines:
        print("\n".join(lines), flush=True)
