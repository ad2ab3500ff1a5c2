"""`smsctl`: the command line of the control plane."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from controlplane.settings import Settings, load_settings, settings_path
from smsplatform.config.yamlsource import ConfigError
from smsplatform.logs import configure_logging

log = logging.getLogger("smsctl")


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="smsctl", description=__doc__)
    parser.add_argument(
        "--config", type=Path, help="settings file (default: ./smsctl.yaml if present)"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="start the control plane service")
    run.add_argument("--host", help="listen address (default from settings: 127.0.0.1)")
    run.add_argument("--port", type=int, help="listen port (default from settings: 8080)")
    run.add_argument(
        "--all",
        action="store_true",
        help="also run the bundled send tier, four simulated suppliers and background traffic",
    )
    run.add_argument(
        "--load-rate", type=float, default=50.0, help="with --all: messages/s of background load"
    )
    run.set_defaults(handler=_run)

    rules = commands.add_parser("rules", help="rule files: check and test them")
    rule_commands = rules.add_subparsers(dest="rules_command", required=True)
    check = rule_commands.add_parser("check", help="validate rule files; errors as file:line")
    check.add_argument("paths", nargs="+", type=Path, help="rule files or folders")
    check.set_defaults(handler=_rules_check)
    test = rule_commands.add_parser("test", help="run rule unit tests (promtool-style files)")
    test.add_argument("paths", nargs="+", type=Path, help="test files or folders")
    test.set_defaults(handler=_rules_test)

    alerting = commands.add_parser("alerting", help="alerting.yaml: check it, see where alerts go")
    alerting_commands = alerting.add_subparsers(dest="alerting_command", required=True)
    check_alerting = alerting_commands.add_parser("check", help="validate an alerting.yaml")
    check_alerting.add_argument("path", type=Path)
    check_alerting.set_defaults(handler=_alerting_check)
    route = alerting_commands.add_parser(
        "route", help="the receivers an alert with these labels reaches (as amtool prints them)"
    )
    route.add_argument("--config", dest="alerting_config", type=Path, required=True)
    route.add_argument("labels", nargs="*", help="name=value pairs")
    route.set_defaults(handler=_alerting_route)
    from controlplane.alerting.commands import add_alerting_commands, add_send_test

    add_send_test(alerting_commands)
    add_alerting_commands(commands)
    from controlplane.actions.route_cli import add_route_commands

    add_route_commands(commands)
    from controlplane.actions.degrade_commands import add_degrade_commands

    add_degrade_commands(commands)

    from testbench.demo.scenario import add_demo_command

    add_demo_command(commands)
    from smsctl.sendtier_cli import add_sendtier_commands

    add_sendtier_commands(commands)

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    upgrade = db_commands.add_parser("upgrade", help="apply database migrations up to the newest")
    upgrade.set_defaults(handler=_db_upgrade)
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_settings(settings_path(args.config), os.environ)
    configure_logging(settings.log_level)
    return settings


def _run(args: argparse.Namespace) -> int:
    import uvicorn

    from controlplane.service import ControlPlane
    from controlplane.web.app import create_app

    settings = _settings(args)
    host = args.host or settings.server.host
    port = args.port or settings.server.port
    if args.all:
        import asyncio

        from smsctl.system import run_whole_system

        asyncio.run(
            run_whole_system(settings, os.environ, host=host, port=port, load_rate=args.load_rate)
        )
        return 0
    service = ControlPlane(settings, os.environ)
    if service.tokens.generated_admin_token:
        # Printed once to the terminal on purpose, never logged: this is how a newcomer gets in.
        print(f"admin token (this run only): {service.tokens.generated_admin_token}", flush=True)
    print(
        f"smsctl control plane on http://{host}:{port}  (health: /healthz, metrics: /metrics)",
        flush=True,
    )
    # uvicorn turns SIGINT/SIGTERM into a graceful shutdown; the app's lifespan then drains the bus.
    uvicorn.run(create_app(service), host=host, port=port, log_config=None, access_log=False)
    return 0


def _rules_check(args: argparse.Namespace) -> int:
    from controlplane.engine.rules import rules_check_command

    return rules_check_command(args.paths)


def _rules_test(args: argparse.Namespace) -> int:
    from controlplane.engine.ruletest import rules_test_command

    return rules_test_command(args.paths)


def _alerting_check(args: argparse.Namespace) -> int:
    from controlplane.alerting.config import alerting_check_command

    return alerting_check_command(args.path)


def _alerting_route(args: argparse.Namespace) -> int:
    from controlplane.alerting.config import alerting_route_command

    return alerting_route_command(args.alerting_config, args.labels)


def _db_upgrade(args: argparse.Namespace) -> int:
    from controlplane.storage import CONTROL_PLANE_HISTORY, Database
    from sendtier.storage import SENDTIER_HISTORY

    settings = _settings(args)
    database = Database(settings.database.url)
    try:
        # Both owners' tables: one database serves both in the embedded default.
        for history in (CONTROL_PLANE_HISTORY, SENDTIER_HISTORY):
            database.upgrade(history)
    finally:
        database.dispose()
    log.info("database upgraded url=%s", database.engine.url.render_as_string(hide_password=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
