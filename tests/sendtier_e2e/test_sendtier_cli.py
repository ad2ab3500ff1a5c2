"""`smsctl sendtier ...`: the demo settings file, one process on the embedded bus, bad options."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import yaml
from e2e_helpers import (
    assert_each_sent_once_with_its_receipt,
    count_settled,
    free_ports,
    plan_arguments,
    read_stored,
    send_batches,
    sendtier_processes,
    wait_until,
    write_settings,
)

from sendtier.settings import load_sendtier_settings
from sendtier.storage import Database
from smsctl.sendtier_cli import add_sendtier_commands
from smsplatform.config.yamlsource import ConfigError
from testbench.demo.platform import platform_from


def run_command(argv: list[str]) -> int:
    """Run a sendtier sub-command in this process, as `smsctl sendtier <argv>` would."""
    parser = argparse.ArgumentParser(prog="smsctl")
    add_sendtier_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["sendtier", *argv])
    code: int = args.handler(args)
    return code


def test_demo_config_is_a_settings_file_that_routes_every_carrier_and_class_over_four_suppliers(
    tmp_path: Path,
) -> None:
    output = tmp_path / "sendtier.yaml"
    code = run_command(
        ["demo-config", "--bus", "jetstream", "--stream", "DEMO", "--output", str(output)]
    )

    assert code == 0
    settings = load_sendtier_settings(output)
    assert (settings.bus.backend, settings.bus.stream) == ("jetstream", "DEMO")
    assert [s.name for s in settings.suppliers] == ["aliyun", "tencent", "twilio", "cmpp"]
    assert {t.name for t in settings.tenants} == {"demo", "alerts"}
    routes = {(r.carrier, r.message_class): r.suppliers for r in settings.dispatch.default_routes}
    assert len(routes) == 9
    assert all(
        set(suppliers) == {"aliyun", "tencent", "twilio", "cmpp"} for suppliers in routes.values()
    )
    # Secrets are written out: the file is what the separate processes load.
    document = yaml.safe_load(output.read_text(encoding="utf-8"))
    assert document["tenants"][0]["token"] == settings.tenants[0].token.get_secret_value()


def test_demo_config_carries_a_routing_cache_and_callback_tokens_the_simulators_use(
    tmp_path: Path,
) -> None:
    output = tmp_path / "sendtier.yaml"
    database_url = f"sqlite:///{tmp_path}/smsctl.db"
    run_command(["demo-config", "--database-url", database_url, "--output", str(output)])

    settings = load_sendtier_settings(output)
    # Beside the database: a fresh database never meets an older run's routing versions.
    assert settings.dispatch.routing_cache_path == str(tmp_path / "sendtier-routing.json")
    tokens = {s.name: s.callback_token for s in settings.suppliers if s.callback_token}
    assert set(tokens) == {"aliyun", "tencent"}  # Twilio and CMPP sign their pushes instead
    simulators = platform_from(yaml.safe_load(output.read_text(encoding="utf-8")), {}).simulators
    for name, token in tokens.items():
        callback = simulators[name].config.callback_url
        assert callback == (
            f"http://127.0.0.1:8083/v1/callbacks/{name}?token={token.get_secret_value()}"
        )


def test_a_fault_plan_for_a_supplier_the_settings_do_not_have_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "sendtier.yaml"
    run_command(["demo-config", "--output", str(config)])
    plan = tmp_path / "plan.yaml"
    plan.write_text("submit: {error_rate: 0.5}\n", encoding="utf-8")

    with pytest.raises(ConfigError) as refused:
        run_command(["simulators", "--config", str(config), "--plan", f"nexmo={plan}"])

    assert "--plan" in str(refused.value)
    assert "nexmo" in str(refused.value)


async def test_all_runs_every_service_and_the_simulators_in_one_process_on_the_embedded_bus(
    tmp_path: Path,
) -> None:
    config = _one_process_settings(tmp_path)
    settings = load_sendtier_settings(config)
    api_url = f"http://127.0.0.1:{settings.api.port}"
    urls = {"api": api_url, "persist": f"http://127.0.0.1:{settings.persist.port}"}
    database = Database(settings.database.url)
    try:
        with sendtier_processes(config, {"all": plan_arguments(tmp_path)}, urls):
            accepted = await send_batches(
                api_url, settings.tenants[0].token.get_secret_value(), 40, batch_size=20
            )
            await wait_until(
                lambda: count_settled(database) >= 40,
                timeout_s=30,
                what="every message stored with its receipt",
            )
        # It drained and exited 0 on SIGTERM here (sendtier_processes checks).
        stored = read_stored(database)
    finally:
        database.dispose()
    assert_each_sent_once_with_its_receipt(stored, accepted)


def _one_process_settings(tmp_path: Path) -> Path:
    """The demo settings on the memory bus and a SQLite file, every port a free one."""
    config = tmp_path / "sendtier.yaml"
    database_url = f"sqlite:///{tmp_path}/smsctl.db"
    run_command(["demo-config", "--database-url", database_url, "--output", str(config)])
    document = yaml.safe_load(config.read_text(encoding="utf-8"))
    api, dispatch, receipts, persist, *simulators = free_ports(8)
    sections = {"api": api, "dispatch": dispatch, "receipts": receipts, "persist": persist}
    for section, port in sections.items():
        document[section]["port"] = port
    document["receipts"]["public_url"] = f"http://127.0.0.1:{receipts}"
    for supplier, port in zip(document["suppliers"], simulators, strict=True):
        supplier["base_url"] = f"http://127.0.0.1:{port}"
    platform = platform_from(document, {})
    return write_settings(platform, tmp_path)
