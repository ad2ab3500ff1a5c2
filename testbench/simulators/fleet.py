"""Several simulators in one process, one per configured supplier: what `make run` starts.

A fleet file lists simulators with a name and port besides their SimulatorConfig:

    simulators:
      - name: aliyun-sim
        port: 9101
        account: {dialect: aliyun, access_key_id: ..., access_key_secret: ...}
        callback_url: http://127.0.0.1:8083/v1/callbacks/aliyun-sim?token=...
        plan: {submit: {error_rate: 0.01}}

Without a file, `default_fleet` gives one simulator per dialect with demo credentials, pushing
receipts to the send tier's receipt gateway; Alibaba- and Tencent-style pushes carry the demo
callback token in their URL, as the gateway requires of suppliers whose pushes are unsigned.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from smsplatform.clock import Clock, system_clock
from smsplatform.config.yamlsource import ConfigError, load_yaml
from suppliers.callbacks import CALLBACK_TOKEN_PARAM, TOKEN_CHECKED_DIALECTS
from testbench.simulators.config import SimulatorConfig
from testbench.simulators.server import RunningSimulator, running_simulator

DEFAULT_GATEWAY = "http://127.0.0.1:8083"
DEFAULT_PORTS = {"aliyun": 9101, "tencent": 9102, "twilio": 9103, "cmpp": 9104}
# Demo accounts: the send tier's example settings use the same values to talk to the fleet.
DEMO_ACCOUNTS: dict[str, dict[str, Any]] = {
    "aliyun": {"dialect": "aliyun", "access_key_id": "LTAIsim", "access_key_secret": "sim-secret"},
    "tencent": {
        "dialect": "tencent",
        "secret_id": "AKIDsim",
        "secret_key": "sim-secret",
        "sdk_app_id": "1400000000",
    },
    "twilio": {
        "dialect": "twilio",
        "account_sid": "AC" + "0" * 32,
        "auth_token": "sim-secret",
        "from_number": "+15005550006",
    },
    "cmpp": {"dialect": "cmpp", "account": "sim", "secret": "sim-secret"},
}
# The callback token of the demo suppliers whose pushes are unsigned: the send tier's settings
# for them set it as callback_token (a demo value, like the account secrets above).
DEMO_CALLBACK_TOKEN = "sim-callback-token"
# Realistic background behaviour for a demo: a little of everything, nothing dramatic.
DEMO_PLAN: dict[str, Any] = {
    "submit": {"error_rate": 0.005},
    "receipts": {"delay": {"kind": "lognormal", "median_ms": 2000, "p99_ms": 20000}},
}


class SimulatorEntry(BaseModel):
    """One simulator of a fleet: where it listens, and its config."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    port: int = Field(ge=0, le=65535)
    config: SimulatorConfig


class _FleetFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    simulators: list[dict[str, Any]] = Field(min_length=1)


def default_fleet(gateway_url: str = DEFAULT_GATEWAY) -> list[SimulatorEntry]:
    """One simulator per dialect on ports 9101-9104, pushing to `<gateway>/v1/callbacks/<name>`."""
    entries = []
    for dialect, port in DEFAULT_PORTS.items():
        name = f"{dialect}-sim"
        callback_url = f"{gateway_url.rstrip('/')}/v1/callbacks/{name}"
        if dialect in TOKEN_CHECKED_DIALECTS:
            callback_url += f"?{CALLBACK_TOKEN_PARAM}={DEMO_CALLBACK_TOKEN}"
        config = SimulatorConfig.model_validate(
            {"account": DEMO_ACCOUNTS[dialect], "callback_url": callback_url, "plan": DEMO_PLAN}
        )
        entries.append(SimulatorEntry(name=name, port=port, config=config))
    return entries


def load_fleet(path: Path) -> list[SimulatorEntry]:
    """Simulators from a fleet file; a bad one raises ConfigError with file, line and field."""
    document = load_yaml(path)
    try:
        fleet = _FleetFile.model_validate(document.data or {})
    except ValidationError as exc:
        raise ConfigError(
            [document.problem(tuple(error["loc"]), error["msg"]) for error in exc.errors()]
        ) from None
    entries = []
    for index, raw in enumerate(fleet.simulators):
        fields = {key: value for key, value in raw.items() if key not in ("name", "port")}
        try:
            entries.append(
                SimulatorEntry.model_validate(
                    {"name": raw.get("name"), "port": raw.get("port"), "config": fields}
                )
            )
        except ValidationError as exc:
            problems = []
            for error in exc.errors():
                loc = tuple(error["loc"])
                inner = loc[1:] if loc and loc[0] == "config" else loc
                message = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
                problems.append(document.problem(("simulators", index, *inner), message))
            raise ConfigError(problems) from None
    return entries


async def serve_fleet(
    entries: Sequence[SimulatorEntry],
    *,
    host: str = "127.0.0.1",
    clock: Clock = system_clock,
    on_ready: Callable[[list[tuple[SimulatorEntry, RunningSimulator]]], None] | None = None,
) -> None:
    """Serve every simulator until cancelled."""
    async with AsyncExitStack() as stack:
        running = []
        for entry in entries:
            sim = await stack.enter_async_context(
                running_simulator(entry.config, clock, host=host, port=entry.port)
            )
            running.append((entry, sim))
        if on_ready is not None:
            on_ready(running)
        await asyncio.Event().wait()
