"""`smsctl sendtier ...`: the send tier's services, alone or together, with its test benches.

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
import sys
from contextlib import AsyncExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sendtier.cli import (
    DEFAULT_CONFIG,
    Prelude,
    add_config_option,
    add_service_commands,
    configure_service_logging,
    load_settings,
    quiet_chatty_loggers,
    run_event_loop,
    serve,
)
from smsplatform.config.settings import BusSettings, DatabaseSettings
from smsplatform.config.yamlsource import ConfigError, ConfigProblem
from smsplatform.logs import configure_logging
from testbench.load import add_load_arguments, load_command

# The simulators and the demo platform are imported by the commands that run them.
if TYPE_CHECKING:
    from sendtier.settings import SendTierSettings
    from testbench.demo.platform import DemoPlatform, SimulatorSite


def add_sendtier_commands(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add `sendtier` and its sub-commands to smsctl's sub-commands."""
    sendtier = subparsers.add_parser(
        "sendtier", help="the bundled SMS send tier", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    commands = sendtier.add_subparsers(dest="sendtier_command", required=True)
    add_service_commands(commands)

    simulators = commands.add_parser(
        "simulators", help="run a simulator for each configured supplier"
    )
    add_config_option(simulators, demo_fallback=False)
    _plan_option(simulators)
    simulators.set_defaults(handler=_run_simulators)

    everything = commands.add_parser(
        "all", help="run every service and the supplier simulators in one process"
    )
    add_config_option(everything, demo_fallback=True)
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


def _plan_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--plan",
        action="append",
        default=[],
        metavar="[SUPPLIER=]FILE",
        help="a fault plan (YAML) for one supplier's simulator, or for all without SUPPLIER=; "
        "repeatable",
    )


def _run_simulators(args: argparse.Namespace) -> int:
    settings = load_settings(args.sendtier_config or DEFAULT_CONFIG)
    run_event_loop(serve(settings, [], _simulators_first(_simulators(settings, args.plan))))
    return 0


def _run_all(args: argparse.Namespace) -> int:
    from sendtier.stack import SERVICES
    from testbench.demo.platform import DemoPorts, demo_platform

    path: Path | None = args.sendtier_config
    if path is None and DEFAULT_CONFIG.exists():
        path = DEFAULT_CONFIG
    if path is not None:
        settings = load_settings(path)
    else:
        platform = demo_platform(DemoPorts(), DatabaseSettings(), BusSettings())
        settings = platform.settings
        configure_service_logging(settings)
        _announce_tokens(platform)
    sites = {} if args.no_simulators else _simulators(settings, args.plan)
    run_event_loop(serve(settings, list(SERVICES), _simulators_first(sites)))
    return 0


def _write_demo_config(args: argparse.Namespace) -> int:
    from testbench.demo.platform import DemoPorts, demo_platform

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
    quiet_chatty_loggers()
    return load_command(args)


def _simulators_first(sites: dict[str, SimulatorSite]) -> Prelude:
    """The simulators, started before the services (dispatch submits to them), stopped last."""
    from testbench.demo.platform import running_simulators

    async def start(stack: AsyncExitStack) -> None:
        if not sites:
            return
        simulators = await stack.enter_async_context(running_simulators(sites))
        for name, simulator in simulators.items():
            print(f"simulator {name} on {simulator.base_url}", flush=True)

    return start


def _simulators(settings: SendTierSettings, plan_options: list[str]) -> dict[str, SimulatorSite]:
    from testbench.demo.platform import stand_in_simulators
    from testbench.simulators import FaultPlan, load_plan

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
