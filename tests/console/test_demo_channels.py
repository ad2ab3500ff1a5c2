"""`make run` on embedded defaults: alerts route to notifier fakes the console's inbox lists."""

from __future__ import annotations

from pathlib import Path

from controlplane.alerting.config import load_alerting_config
from controlplane.alerting.wiring import build_alerting
from controlplane.settings import AlertingSettings
from controlplane.storage import CONTROL_PLANE_HISTORY, Database
from controlplane.web.console import running_fakes
from smsplatform.bus.liveness import LivenessRegistry
from smsplatform.clock import system_clock
from testbench.demo.channels import demo_channels

CONTROL_URL = "http://127.0.0.1:8080"


async def test_without_an_alerting_config_alerts_route_to_fakes_the_inbox_lists() -> None:
    async with demo_channels(AlertingSettings(), CONTROL_URL) as channels:
        assert channels.alerting.config is not None
        config = load_alerting_config(Path(channels.alerting.config))
        assert set(config.receivers) == {"ops", "phone-primary"}
        assert channels.alerting.voice_api_url == channels.fake_urls["voice"]
        shown = {fake.name: fake.url for fake in running_fakes.shown()}
        assert shown == channels.fake_urls
        assert set(shown) == {"DingTalk", "WeCom", "webhook", "voice"}
    assert running_fakes.shown() == []


async def test_an_alerting_config_of_ones_own_is_kept_and_no_fake_starts(tmp_path: Path) -> None:
    own = AlertingSettings(config=str(tmp_path / "alerting.yaml"))
    async with demo_channels(own, CONTROL_URL) as channels:
        assert channels.alerting == own
        assert channels.fake_urls == {} and running_fakes.shown() == []


async def test_the_demo_makes_the_secrets_acks_need_so_make_run_starts(sqlite_url: str) -> None:
    database = Database(sqlite_url)
    database.upgrade(CONTROL_PLANE_HISTORY)
    async with demo_channels(AlertingSettings(), CONTROL_URL) as channels:
        settings = channels.alerting
        assert settings.ack_secret is not None and settings.voice_callback_token is not None
        alerting = build_alerting(  # escalates, calls: starts
            settings, database, system_clock, liveness=LivenessRegistry()
        )
        assert alerting is not None
        try:
            assert alerting.ack_links is not None
            assert alerting.voice_callback_token == (
                settings.voice_callback_token.get_secret_value().encode()
            )
        finally:
            await alerting.client.aclose()
