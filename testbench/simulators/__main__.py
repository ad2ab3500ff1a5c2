"""`python -m testbench.simulators`: serve a fleet of supplier simulators until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from pathlib import Path

from smsplatform.config.yamlsource import ConfigError
from smsplatform.logs import configure_logging
from testbench.simulators.fleet import (
    DEFAULT_GATEWAY,
    SimulatorEntry,
    default_fleet,
    load_fleet,
    serve_fleet,
)
from testbench.simulators.server import RunningSimulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m testbench.simulators", description=__doc__)
    parser.add_argument("--config", type=Path, help="fleet file (default: one per dialect)")
    parser.add_argument("--host", default="127.0.0.1", help="listen address")
    parser.add_argument(
        "--gateway", default=DEFAULT_GATEWAY, help="receipt gateway for the default fleet"
    )
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    configure_logging(args.log_level)
    try:
        entries = load_fleet(args.config) if args.config else default_fleet(args.gateway)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2

    def announce(running: list[tuple[SimulatorEntry, RunningSimulator]]) -> None:
        for entry, sim in running:
            print(f"{sim.config.dialect} simulator {entry.name} on {sim.base_url}", flush=True)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_fleet(entries, host=args.host, on_ready=announce))
    return 0


if __name__ == "__main__":
    sys.exit(main())
