"""`smsctl sendtier ...`: run the send tier's services alone or together, its simulators, its load.

- `api|dispatch|persist|receipts --config sendtier.yaml`: one service in this process, on the
  host and port of its section; the bus is started and the database migrated first; SIGTERM
  (or Ctrl-C) drains it and exits 0.
- `simulators --config sendtier.yaml`: a simulator for each configured supplier, where its
  `base_url` points, pushing receipts to the gateway.
- `all [--config sendtier.yaml]`: every service plus the simulators in one process; without a
  settings file, the demo platform on the embedded bus and SQLite.
- `demo-config`: the demo platform's settings as a `sendtier.yaml`, to run it as processes.
- `load`: open-loop traffic through the send API, with a report.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Coroutine
from contextlib import AsyncExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

from controlplane.logs import configure_logging
from controlplane.settings import BusSettings, DatabaseSettings
from controlplane.yamlsource import ConfigError, ConfigProblem
from sendtier.load import add_load_arguments, load_command

# The services, the simulators and their web stack are imported by the commands that run them:
# `load` and `--help` start in a fraction of the ~3 s those imports take.
if TYPE_CHECKING:
    from sendtier.demo import DemoPlatform, SimulatorSite
    from sendtier.settings import SendTierSettings
    from sendtier.stack import ServiceName

DEFAULT_CONFIG = Path("sendtier.yaml")
log = logging.getLogger("smsctl.sendtier")


def add_sendtier_commands(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add `sendtier` and its sub-commands to a CLI's sub-commands (smsctl's, or our own)."""
    sendtier = subparsers.add_parser(
        "sendtier", help="the bundled SMS send tier", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    commands = sendtier.add_subparsers(dest="sendtier_command", required=True)
    helps = {  # the services of sendtier.stack.SERVICES
        "api": "the send API (accepts messages, puts them on the bus)",
        "dispatch": "the dispatcher (sends messages through the suppliers)",
        "persist": "the persistence service (writes messages, submits and receipts)",
        "receipts": "the receipt gateway (supplier delivery-report callbacks)",
    }
    for name, what in helps.items():
        service = commands.add_parser(name, help=f"run {what} alone")
        _config_option(service, demo_fallback=False)
        service.set_defaults(handler=_run_service, service=name)

    simulators = commands.add_parser(
        "simulators", help="run a simulator for each configured supplier"
    )
    _config_option(simulators, demo_fallback=False)
    _plan_option(simulators)
    simulators.set_defaults(handler=_run_simulators)

    everything = commands.add_parser(
        "all", help="run every service and the supplier simulators in one process"
    )
    _config_option(everything, demo_fallback=True)
    _plan_option(everything)
    everything.add_argument(
        "--no-simulators", action="store_true", help="the suppliers are real: start no simulator"
    )
    everything.set_defaults(handler=_run_all)

    demo = commands.add_parser("demo-config", help="write the demo platform's sendtier.yaml")
    demo.add_argument("--output", type=Path, help="where to write it (default: standard output)")
    demo.add_argument("--bus", choices=("memory", "jetstream"), default="memory")
    demo.add_argument("--nats-url", default=BusSettings().url, help="JetStream server")
    demo.add_argument("--stream", default=BusSettings().stream, help="JetStream stream")
    demo.add_argument("--namespace", default=BusSettings().namespace, help="subject namespace")
    demo.add_argument("--database-url", default=DatabaseSettings().url, help="SQLAlchemy URL")
    demo.set_defaults(handler=_write_demo_config)

    load = commands.add_parser("load", help="send open-loop traffic through the send API")
    add_load_arguments(load)
    load.set_defaults(handler=_run_load)


def _config_option(parser: argparse.ArgumentParser, *, demo_fallback: bool) -> None:
    # Its own dest: a sub-command's default would overwrite smsctl's top-level --config.
    fallback = " if present, else the demo" if demo_fallback else ""
    default_help = f"default: ./{DEFAULT_CONFIG}{fallback}"
    parser.add_argument(
        "--config",
        dest="sendtier_config",
        metavar="FILE",
        type=Path,
        help=f"send-tier settings ({default_help})",
    )


def _plan_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--plan",
        action="append",
        default=[],
        metavar="[SUPPLIER=]FILE",
        help="a fault plan (YAML) for one supplier's simulator, or for all without SUPPLIER=; "
        "repeatable",
    )


def _run_service(args: argparse.Namespace) -> int:
    settings = _settings(args.sendtier_config or DEFAULT_CONFIG)
    name: ServiceName = args.service
    _run_event_loop(_serve(settings, [name], {}))
    return 0


def _run_simulators(args: argparse.Namespace) -> int:
    settings = _settings(args.sendtier_config or DEFAULT_CONFIG)
    _run_event_loop(_serve(settings, [], _simulators(settings, args.plan)))
    return 0


def _run_all(args: argparse.Namespace) -> int:
    from sendtier.demo import DemoPorts, demo_platform
    from sendtier.stack import SERVICES

    path: Path | None = args.sendtier_config
    if path is None and DEFAULT_CONFIG.exists():
        path = DEFAULT_CONFIG
    if path is not None:
        settings = _settings(path)
    else:
        platform = demo_platform(DemoPorts(), DatabaseSettings(), BusSettings())
        settings = platform.settings
        _configure_logging(settings)
        _announce_tokens(platform)
    sites = {} if args.no_simulators else _simulators(settings, args.plan)
    _run_event_loop(_serve(settings, list(SERVICES), sites))
    return 0


def _write_demo_config(args: argparse.Namespace) -> int:
    from sendtier.demo import DemoPorts, demo_platform

    bus = BusSettings(
        backend=args.bus, url=args.nats_url, stream=args.stream, namespace=args.namespace
    )
    platform = demo_platform(DemoPorts(), DatabaseSettings(url=args.database_url), bus)
    text = platform.settings_yaml()
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {args.output} (tenant tokens inside: keep it private)", file=sys.stderr)
    return 0


def _run_load(args: argparse.Namespace) -> int:
    configure_logging("INFO")
    _quiet_chatty_loggers()
    return load_command(args)


async def _serve(
    settings: SendTierSettings, names: list[ServiceName], sites: dict[str, SimulatorSite]
) -> None:
    """Serve simulators (started first: dispatch submits to them) and services until signalled;
    on SIGTERM or SIGINT stop in reverse: services drain first, simulators last."""
    from controlplane.web.serving import wait_for_signal
    from sendtier.demo import running_simulators
    from sendtier.stack import running_services

    async with AsyncExitStack() as stack:
        if sites:
            simulators = await stack.enter_async_context(running_simulators(sites))
            for name, simulator in simulators.items():
                print(f"simulator {name} on {simulator.base_url}", flush=True)
        if names:
            services = await stack.enter_async_context(running_services(settings, names))
            for name, url in services.urls.items():
                print(f"sendtier {name} on {url}", flush=True)
        signum = await wait_for_signal()
        log.info("sendtier.stopping signal=%d", signum)


def _run_event_loop(main: Coroutine[Any, Any, None]) -> None:
    """Run `main` on uvloop when it is installed (uvicorn[standard] brings it): its event loop
    and socket transports take less CPU than asyncio's, and the services are CPU-bound."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] is a dependency
        asyncio.run(main)
        return
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main)


def _settings(path: Path) -> SendTierSettings:
    from sendtier.settings import load_sendtier_settings

    settings = load_sendtier_settings(path)
    _configure_logging(settings)
    return settings


def _configure_logging(settings: SendTierSettings) -> None:
    configure_logging(settings.log_level)
    _quiet_chatty_loggers()


def _quiet_chatty_loggers() -> None:
    # httpx logs every request at INFO: thousands of lines a second under load, and their cost.
    # uvicorn announces each server's start and stop; ServerGroup logs one line per service.
    for name in ("httpx", "uvicorn.error"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _simulators(settings: SendTierSettings, plan_options: list[str]) -> dict[str, SimulatorSite]:
    from sendtier.demo import stand_in_simulators
    from sendtier.suppliers.sim import FaultPlan, load_plan

    plans: dict[str, FaultPlan] = {}
    default_plan: FaultPlan | None = None
    configured = {supplier.name for supplier in settings.suppliers}
    for option in plan_options:
        supplier, separator, file = option.rpartition("=")
        if separator and supplier not in configured:
            message = f"no supplier {supplier!r} in the settings (they are: {sorted(configured)})"
            raise ConfigError([ConfigProblem("<command line>", None, "--plan", message)])
        plan = load_plan(Path(file))
        if separator:
            plans[supplier] = plan
        else:
            default_plan = plan
    try:
        return stand_in_simulators(settings, plans, default_plan)
    except ValueError as exc:  # a supplier whose base_url no simulator can listen on
        message = f"{exc} (real suppliers need no simulator: `all --no-simulators`)"
        raise ConfigError([ConfigProblem("<settings>", None, "suppliers", message)]) from None


def _announce_tokens(platform: DemoPlatform) -> None:
    # Printed once to the terminal on purpose, never logged: this is how a newcomer sends.
    for tenant, token in platform.tenant_tokens.items():
        print(f"tenant {tenant} token (this run only): {token}", flush=True)
