"""The load generator against the real API served by uvicorn on a free port (memory bus)."""

from __future__ import annotations

import argparse
import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
import uvicorn
from sendtier_api_helpers import SHOP_TOKEN, api_settings

from sendtier.api import create_api_app
from sendtier.settings import SendTierSettings
from sendtier.storage import SENDTIER_HISTORY, Database
from smsplatform.bus import SUBMIT, MemoryBus
from smsplatform.clock import system_clock
from testbench.load import (
    CARRIER_PREFIXES,
    add_load_arguments,
    parse_duration,
    parse_mix,
    run_load,
)


@asynccontextmanager
async def served(settings: SendTierSettings) -> AsyncIterator[tuple[str, MemoryBus]]:
    database = Database(settings.database.url)
    database.upgrade(SENDTIER_HISTORY)
    bus = MemoryBus(clock=system_clock)
    await bus.start()
    app = create_api_app(settings, bus, database, system_clock)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False))
    task = asyncio.create_task(server.serve(sockets=[listener]))
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}", bus
    finally:
        server.should_exit = True
        await task
        listener.close()
        await bus.close()
        database.dispose()


async def test_the_load_generator_drives_the_requested_traffic(sqlite_url: str) -> None:
    async with served(api_settings(sqlite_url)) as (url, bus):
        submitted = await bus.subscribe(SUBMIT, "observer")
        report = await run_load(
            url, SHOP_TOKEN, rate=200, duration=1.0, mix=parse_mix("otp=0.5,notification=0.5")
        )
        on_bus = await submitted.fetch(1000, timeout=0.1)
    assert report.sent == 200 and report.skipped == 0
    assert report.accepted + report.rate_limited + report.refused + report.errors == 200
    assert report.errors == 0 and report.refused == 0
    assert report.accepted >= 198  # random numbers: a repeat within a minute is rate limited
    assert len(on_bus) == report.accepted
    assert set(report.offered_by_carrier) == set(CARRIER_PREFIXES)
    assert min(report.offered_by_carrier.values()) > 30
    assert set(report.offered_by_class) == {"otp", "notification"}
    assert 0.9 <= report.duration_s < 2.0
    assert 0 < report.latency_p50_ms <= report.latency_p99_ms <= report.latency_max_ms


async def test_batches_carry_notification_and_marketing_but_never_otp(sqlite_url: str) -> None:
    async with served(api_settings(sqlite_url)) as (url, _):
        report = await run_load(url, SHOP_TOKEN, rate=300, duration=0.5, batch_size=20, seed=7)
    assert report.sent == 150
    assert report.accepted == 150 - report.rate_limited
    otp_messages = report.offered_by_class.get("otp", 0)
    # Every OTP is its own request; the others share requests.
    assert otp_messages < report.requests < report.sent


async def test_an_unknown_token_fails_before_any_load(sqlite_url: str) -> None:
    async with served(api_settings(sqlite_url)) as (url, _):
        with pytest.raises(httpx.HTTPStatusError, match="401"):
            await run_load(url, "wrong-token-0123456789", rate=10, duration=0.1)


def test_the_command_line_options_parse_rates_durations_and_mixes() -> None:
    parser = argparse.ArgumentParser()
    add_load_arguments(parser)
    args = parser.parse_args(
        ["--token", "t", "--rate", "50", "--duration", "2m", "--mix", "otp=1,marketing=3"]
    )
    assert (args.rate, args.duration) == (50.0, 120.0)
    assert args.mix == {"otp": 0.25, "marketing": 0.75}
    assert parse_duration("1.5h") == 5400.0
    for bad in ("otp=x", "sms=1", "otp=-1", "otp=0"):
        with pytest.raises(ValueError):
            parse_mix(bad)
    with pytest.raises(SystemExit):
        parser.parse_args(["--token", "t", "--rate", "0"])
