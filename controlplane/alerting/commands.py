"""`smsctl` commands of the alerting stage: silences, acknowledgements and test notifications."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

import httpx

from controlplane.alerting.channels import build_receivers, channel_services, oncall_recipients
from controlplane.alerting.config import AlertingConfig, load_alerting_config
from controlplane.alerting.escalation.command import ack_command
from controlplane.alerting.pipeline.silence_commands import (
    add_silence,
    expire_silence,
    format_silences,
    list_silences,
)
from controlplane.api_client import ApiRefused, add_api_options
from controlplane.engine.rules.durations import parse_duration
from controlplane.settings import AlertingSettings, load_settings, settings_path
from notifiers.base import AlertSummary, Notification, Outcome
from smsplatform.clock import Clock, system_clock


def silence_add(args: argparse.Namespace) -> int:
    try:
        created = add_silence(
            args.url, args.token, args.matchers, parse_duration(args.duration),
            args.created_by, args.comment,
        )  # fmt: skip
    except (ApiRefused, ValueError) as exc:
        print(f"smsctl silence add: {exc}", file=sys.stderr)
        return 1
    print(created["id"])
    return 0


def silence_ls(args: argparse.Namespace) -> int:
    try:
        print(format_silences(list_silences(args.url, args.token)))
    except ApiRefused as exc:
        print(f"smsctl silence ls: {exc}", file=sys.stderr)
        return 1
    return 0


def silence_expire(args: argparse.Namespace) -> int:
    try:
        expire_silence(args.url, args.token, args.silence_id)
    except ApiRefused as exc:
        print(f"smsctl silence expire: {exc}", file=sys.stderr)
        return 1
    return 0


def ack(args: argparse.Namespace) -> int:
    return ack_command(args.url, args.token, args.fingerprint)


def send_test(args: argparse.Namespace) -> int:
    """Send one test notification through every channel of a receiver; exit 1 if any failed.

    Channels are built as the service builds them: endpoints and credentials from the service
    settings (`smsctl --config`), `oncall:` targets resolved to whoever is on call now.
    """
    settings = load_settings(settings_path(args.config), os.environ).alerting
    alerting_file = args.alerting_config or settings.config
    if alerting_file is None:
        print("smsctl alerting send-test: no alerting.yaml (--config FILE)", file=sys.stderr)
        return 2
    config = load_alerting_config(Path(alerting_file))
    if args.receiver not in config.receivers:
        print(f"smsctl alerting send-test: no receiver {args.receiver!r}", file=sys.stderr)
        return 2
    return asyncio.run(send_test_notifications(config, args.receiver, settings, system_clock))


async def send_test_notifications(
    config: AlertingConfig, name: str, settings: AlertingSettings, clock: Clock
) -> int:
    """Each channel of receiver `name` gets one test notification; prints one line per channel."""
    labels = {"alertname": "SmsctlTestNotification", "severity": "info", "receiver": name}
    services = channel_services(settings, clock)
    recipients = oncall_recipients(config.oncall, clock)
    failures = 0
    async with httpx.AsyncClient(timeout=10.0) as client:
        built = build_receivers(config.receivers, clock, services, client, config.templates)
        for channel in built[name].channels:
            notification = Notification(
                receiver=name,
                group_key=f"{{}}:{{receiver=\"{name}\"}}",
                status="firing",
                alerts=[AlertSummary("0" * 16, "firing", labels,
                                     {"summary": "smsctl test notification"}, clock.now())],
                recipients=recipients(channel.targets),
                is_test=True,
            )  # fmt: skip
            result = await channel.notifier.send(notification)
            print(
                f"{channel.name}: {result.outcome.value} {result.error_code or ''} {result.detail}"
            )
            failures += result.outcome is not Outcome.DELIVERED
            await channel.notifier.aclose()
    if services.sms_direct is not None:
        await services.sms_direct.aclose()
    return 1 if failures else 0


def add_alerting_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`smsctl silence …`, `smsctl ack …` and `smsctl alerting send-test …`."""
    silence = commands.add_parser("silence", help="silences: add, ls, expire")
    silence_commands = silence.add_subparsers(dest="silence_command", required=True)
    add = silence_commands.add_parser("add", help="silence alerts matching label matchers")
    add_api_options(add)
    add.add_argument("matchers", nargs="+", help='e.g. alertname=SupplierDown supplier=~"ali.*"')
    add.add_argument("--duration", default="1h", help="how long (default 1h)")
    add.add_argument("--created-by", default="smsctl", dest="created_by")
    add.add_argument("--comment", default="")
    add.set_defaults(handler=silence_add)
    ls = silence_commands.add_parser("ls", help="list silences")
    add_api_options(ls)
    ls.set_defaults(handler=silence_ls)
    expire = silence_commands.add_parser("expire", help="end a silence now")
    add_api_options(expire)
    expire.add_argument("silence_id")
    expire.set_defaults(handler=silence_expire)

    acknowledge = commands.add_parser("ack", help="acknowledge an alert: stop its escalation")
    add_api_options(acknowledge)
    acknowledge.add_argument("fingerprint")
    acknowledge.set_defaults(handler=ack)


def add_send_test(alerting_commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    test = alerting_commands.add_parser(
        "send-test", help="send a test notification through every channel of a receiver"
    )
    test.add_argument(
        "--config",
        dest="alerting_config",
        type=Path,
        help="the alerting.yaml (default: the one the service settings name)",
    )
    test.add_argument("receiver")
    test.set_defaults(handler=send_test)
