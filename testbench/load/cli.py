"""`smsctl sendtier load`: its options and the command that runs the load and prints the report."""

from __future__ import annotations

import argparse
import asyncio
import logging
import time

from smsplatform.contracts import MessageClass
from testbench.load.runner import run_load
from testbench.load.traffic import DEFAULT_MIX, parse_mix

log = logging.getLogger(__name__)


def parse_duration(text: str) -> float:
    """Seconds from "90", "90s", "15m" or "2h"."""
    units = {"s": 1.0, "m": 60.0, "h": 3600.0}
    scale = units.get(text[-1:].lower(), 1.0)
    number = text[:-1] if text[-1:].lower() in units else text
    seconds = float(number) * scale
    if seconds <= 0:
        raise ValueError("the duration must be positive")
    return seconds


def add_load_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `smsctl sendtier load`."""
    parser.add_argument("--url", default="http://127.0.0.1:8081", help="send API base URL")
    parser.add_argument("--token", required=True, help="a tenant's API token")
    parser.add_argument("--rate", type=_positive_float, default=100.0, help="messages per second")
    parser.add_argument(
        "--duration", type=_duration, default=60.0, help="how long: 90, 90s, 15m, 2h"
    )
    parser.add_argument(
        "--mix",
        type=_mix,
        default=DEFAULT_MIX,
        help="message class shares, e.g. otp=0.3,notification=0.5,marketing=0.2",
    )
    parser.add_argument(
        "--batch", type=int, default=1, help="recipients per notification/marketing request"
    )
    parser.add_argument(
        "--max-in-flight", type=int, default=512, help="requests due and not answered yet"
    )
    parser.add_argument(
        "--connections", type=int, default=8, help="HTTP connections (senders) to the API"
    )
    parser.add_argument("--seed", type=int, default=None, help="random seed, for repeatable runs")
    parser.add_argument(
        "--progress", type=float, default=None, help="log a progress line every this many seconds"
    )


def load_command(args: argparse.Namespace) -> int:
    """Run the load and print its report; 0 when the API accepted traffic without errors."""
    started = time.perf_counter()
    report = asyncio.run(
        run_load(
            args.url,
            args.token,
            args.rate,
            args.duration,
            args.mix,
            batch_size=args.batch,
            max_in_flight=args.max_in_flight,
            connections=args.connections,
            seed=args.seed,
            progress_every_s=args.progress,
        )
    )
    print(report.summary(), flush=True)
    log.info("load.done wall_s=%.2f", time.perf_counter() - started)
    return 0 if report.errors == 0 and report.accepted > 0 else 1


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _mix(text: str) -> dict[MessageClass, float]:
    try:
        return parse_mix(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
