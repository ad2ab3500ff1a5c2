"""`make run` on embedded defaults: alerts route to notifier fakes the console's inbox lists."""

from __future__ import annotations

from pathlib import Path

from controlplane.alerting.config import load_alerting_config
from controlplane.demo_channels import demo_channels
from controlplane.settings import AlertingSettings
from controlplane.web.console import running_fakes

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
