"""`python -m sendtier api|dispatch|persist|receipts`: one send-tier service alone.

Each runs on the host and port of its section of `sendtier.yaml`; the bus is started and the
database migrated first; SIGTERM (or Ctrl-C) drains it and exits 0. `smsctl sendtier` adds the
same commands beside the test benches (simulators, load, the demo platform).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import AsyncExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

from smsplatform.logs import configure_logging

# The services and their web stack are imported by the commands that run them: `--help` starts
# in a fraction of the ~3 s those imports take.
if TYPE_CHECKING:
    from sendtier.settings import SendTierSettings
    from sendtier.stack import ServiceName

DEFAULT_CONFIG = Path("sendtier.yaml")
SERVICE_HELP = {  # the services of sendtier.stack.SERVICES
    "api": "the send API (accepts messages, puts them on the bus)",
    "dispatch": "the dispatcher (sends messages through the suppliers)",
    "persist": "the persistence service (writes messages, submits and receipts)",
    "receipts": "the receipt gateway (supplier delivery-report callbacks)",
}
log = logging.getLogger("smsctl.sendtier")
# Started before the services and stopped after them (the test benches' simulators).
Prelude = Callable[[AsyncExitStack], Awaitable[None]]


def add_service_commands(commands: argparse._SubParsersAction[Any]) -> None:
    """A sub-command per service, each running it alone."""
    for name, what in SERVICE_HELP.items():
        service = commands.add_parser(name, help=f"run {what} alone")
        add_config_option(service, demo_fallback=False)
        service.set_defaults(handler=_run_service, service=name)


def add_config_option(parser: argparse.ArgumentParser, *, demo_fallback: bool) -> None:
    """--config FILE, the send tier's settings (its own dest: smsctl has a --config of its own)."""
    fallback = " if present, else the demo" if demo_fallback else ""
    default_help = f"default: ./{DEFAULT_CONFIG}{fallback}"
    parser.add_argument(
        "--config",
        dest="sendtier_config",
        metavar="FILE",
        type=Path,
        help=f"send-tier settings ({default_help})",
    )


def _run_service(args: argparse.Namespace) -> int:
    settings = load_settings(args.sendtier_config or DEFAULT_CONFIG)
    name: ServiceName = args.service
    run_event_loop(serve(settings, [name]))
    return 0


async def serve(
    settings: SendTierSettings, names: list[ServiceName], prelude: Prelude | None = None
) -> None:
    """Serve the services until signalled, after `prelude` (what they need running first); on
    SIGTERM or SIGINT stop in reverse: services drain first, what the prelude started last."""
    from sendtier.stack import running_services
    from smsplatform.http.serving import wait_for_signal

    async with AsyncExitStack() as stack:
        if prelude is not None:
            await prelude(stack)
        if names:
            services = await stack.enter_async_context(running_services(settings, names))
            for name, url in services.urls.items():
                print(f"sendtier {name} on {url}", flush=True)
        signum = await wait_for_signal()
        log.info("sendtier.stopping signal=%d", signum)


def run_event_loop(main: Coroutine[Any, Any, None]) -> None:
    """Run `main` on uvloop when it is installed (uvicorn[standard] brings it): its event loop
    and socket transports take less CPU than asyncio's, and the services are CPU-bound."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] is a dependency
        asyncio.run(main)
        return
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main)


def load_settings(path: Path) -> SendTierSettings:
    """The settings at `path` (ConfigError with file:line), with logging set up as they say."""
    from sendtier.settings import load_sendtier_settings

    settings = load_sendtier_settings(path)
    configure_service_logging(settings)
    return settings


def configure_service_logging(settings: SendTierSettings) -> None:
    configure_logging(settings.log_level)
    quiet_chatty_loggers()


def quiet_chatty_loggers() -> None:
    # httpx logs every request at INFO: thousands of lines a second under load, and their cost.
    # uvicorn announces each server's start and stop; ServerGroup logs one line per service.
    for name in ("httpx", "uvicorn.error"):
        logging.getLogger(name).setLevel(logging.WARNING)
