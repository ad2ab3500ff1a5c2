"""`smsctl route show|versions|pin|unpin|drain|restore`: the routing API from the command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from typing import Any, get_args

import httpx

from controlplane.actions.route_commands import VERBS
from controlplane.api_client import ApiRefused, add_api_options, call_api
from smsplatform.contracts import MessageClass


def format_table(table: Mapping[str, Any]) -> str:
    """The table as lines: one per route, suppliers with state and weight."""
    lines = [
        f"version {table['version']}  at {table['at']}  by {table.get('changed_by') or '-'}",
        f"reason  {table.get('reason') or '-'}",
    ]
    for route in table["routes"]:
        entries = "  ".join(
            f"{e['supplier']}:{e['state']}:{e['weight']:g}" for e in route["suppliers"]
        )
        lines.append(f"{route['carrier']:<8} {route['message_class']:<13} {entries}")
    return "\n".join(lines)


def format_versions(versions: Sequence[Mapping[str, Any]]) -> str:
    return "\n".join(
        f"{v['version']:>5}  {v['at']}  {v.get('changed_by') or '-':<24} {v.get('reason') or ''}"
        for v in versions
    )


def _show(args: argparse.Namespace) -> int:
    return _run(lambda: format_table(call_api(args.url, args.token, "GET", "/v1/routing")))


def _versions(args: argparse.Namespace) -> int:
    path = f"/v1/routing/versions?limit={args.limit}"
    return _run(lambda: format_versions(call_api(args.url, args.token, "GET", path)["versions"]))


def _command(args: argparse.Namespace) -> int:
    body = {
        "supplier": args.supplier,
        "carrier": args.carrier,
        "message_class": args.message_class,
        "reason": args.reason,
    }
    path = f"/v1/routing/{args.route_command}"
    return _run(lambda: format_table(call_api(args.url, args.token, "POST", path, body)))


def _run(produce: Any) -> int:
    try:
        print(produce())
    except (ApiRefused, httpx.HTTPError) as exc:
        print(f"smsctl route: {exc}", file=sys.stderr)
        return 1
    return 0


def add_route_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:

    route = commands.add_parser("route", help="the routing table: show it, pin, drain, restore")
    route_commands = route.add_subparsers(dest="route_command", required=True)
    show = route_commands.add_parser("show", help="the table in force")
    add_api_options(show)
    show.set_defaults(handler=_show)
    versions = route_commands.add_parser("versions", help="recent versions: who changed what, why")
    add_api_options(versions)
    versions.add_argument("--limit", type=int, default=20)
    versions.set_defaults(handler=_versions)
    helps = {
        "pin": "send a route's traffic to one supplier only; automation leaves the route alone",
        "unpin": "end a pin: the supplier shares the route by weight again",
        "drain": "take a supplier out of new traffic (every route it is on, unless narrowed)",
        "restore": "put a supplier back at its configured weight",
    }
    for verb in VERBS:
        parser = route_commands.add_parser(verb, help=helps[verb])
        add_api_options(parser)
        parser.add_argument("supplier")
        parser.add_argument("--carrier", help="e.g. cmcc (pin/unpin: required)")
        parser.add_argument(
            "--class",
            dest="message_class",
            choices=get_args(MessageClass),
            help="message class (pin/unpin: required)",
        )
        parser.add_argument("--reason", default="", help="kept with the new version")
        parser.set_defaults(handler=_command)
