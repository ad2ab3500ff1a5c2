"""`smsctl degrade set|show|clear`: status-report degradation from the command line, via the API."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, get_args

import httpx

from controlplane.actions.degradation_notify import readings_text
from controlplane.api_client import ApiRefused, add_api_options, call_api
from controlplane.engine.rules.durations import DurationError, parse_duration
from smsplatform.contracts import DegradationLevel

MANUAL_PATH = "/v1/degradation/manual"


def parse_until(text: str, now: datetime) -> datetime:
    """`--until` as a duration from now (`90m`, `2h`) or an ISO 8601 time with its zone."""
    try:
        return now + timedelta(seconds=parse_duration(text))
    except DurationError:
        pass
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"--until {text!r}: expected a duration (2h, 90m) or an ISO 8601 time with a zone"
        ) from None
    if at.tzinfo is None:
        raise ValueError(f"--until {text!r}: give the time zone (e.g. +08:00 or Z)")
    return at


def _policy_line(version: Mapping[str, Any]) -> str:
    level = version["level"]
    if level == "sample":
        level += f" (ratio {version['sample_ratio']:g})"
    until = f" until {version['until']}" if version.get("until") else ""
    return (
        f"{level:<24} version {version['version']}  at {version['at']}  "
        f"by {version['changed_by']}{until}"
    )


def format_state(state: Mapping[str, Any]) -> str:
    """What `degrade show` prints: the level in force, why, on which readings, and the history."""
    current = state.get("current")
    if current is None:
        return "normal (no degradation version yet)"
    lines = [_policy_line(current), f"reason: {current['reason'] or '-'}"]
    readings = readings_text(current["evidence"].get("readings", {}))
    if readings:
        lines.append(f"readings: {readings}")
    lines.append(f"automatic level: {state['automatic_level']}")
    history = state.get("history", [])[1:]
    if history:
        lines.append("earlier:")
        lines += [f"  {_policy_line(version)}  {version['reason']}" for version in history]
    return "\n".join(lines)


def _run(command: str, produce: Callable[[], str]) -> int:
    try:
        print(produce())
    except (ApiRefused, httpx.HTTPError, ValueError) as exc:
        print(f"smsctl degrade {command}: {exc}", file=sys.stderr)
        return 1
    return 0


def _show(args: argparse.Namespace) -> int:
    path = f"/v1/degradation?history={args.history}"
    return _run("show", lambda: format_state(call_api(args.url, args.token, "GET", path)))


def _set(args: argparse.Namespace) -> int:
    def request() -> str:
        body: dict[str, Any] = {
            "level": args.level,
            "until": parse_until(args.until, datetime.now(UTC)).isoformat(),
            "reason": args.reason,
        }
        if args.ratio is not None:
            body["sample_ratio"] = args.ratio
        return format_state(call_api(args.url, args.token, "PUT", MANUAL_PATH, body))

    return _run("set", request)


def _clear(args: argparse.Namespace) -> int:
    return _run(
        "clear",
        lambda: format_state(call_api(args.url, args.token, "DELETE", MANUAL_PATH)),
    )


def add_degrade_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:

    degrade = commands.add_parser(
        "degrade", help="status-report degradation: show it, set a level, clear it"
    )
    verbs = degrade.add_subparsers(dest="degrade_command", required=True)
    show = verbs.add_parser("show", help="the level in force, why, and recent versions")
    add_api_options(show)
    show.add_argument("--history", type=int, default=10, help="earlier versions to list")
    show.set_defaults(handler=_show)
    set_level = verbs.add_parser(
        "set", help="hold a level until a time; automation and schedules wait until it ends"
    )
    add_api_options(set_level)
    set_level.add_argument("level", choices=get_args(DegradationLevel))
    set_level.add_argument("--ratio", type=float, help="sample: share of marketing receipts kept")
    set_level.add_argument(
        "--until", required=True, help="a duration from now (2h) or an ISO 8601 time with zone"
    )
    set_level.add_argument("--reason", required=True, help="why: stored and announced")
    set_level.set_defaults(handler=_set)
    clear = verbs.add_parser("clear", help="end the operator's level now")
    add_api_options(clear)
    clear.set_defaults(handler=_clear)
