"""The secrets acknowledgement rests on are required at start, never made up per process:
`ack_secret` once alerting.yaml escalates, `voice_callback_token` once a receiver calls."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from controlplane.alerting.wiring import build_alerting
from controlplane.settings import AlertingSettings, Settings
from controlplane.storage import CONTROL_PLANE_HISTORY, Database
from smsctl.cli import main
from smsplatform.bus.liveness import LivenessRegistry
from smsplatform.clock import ManualClock
from smsplatform.config.yamlsource import ConfigError

ESCALATING_WITH_VOICE = """
route: {receiver: ops, escalation: page}
receivers:
  - name: ops
    webhook_configs: [{url: 'http://127.0.0.1:9/alerts'}]
  - name: phone
    voice_configs: [{to: ['+8613800138000'], tts_code: TTS_100001}]
escalations:
  - name: page
    steps: [{after: 5m, receivers: [phone]}]
"""
ONLY_A_WEBHOOK = """
route: {receiver: ops}
receivers:
  - name: ops
    webhook_configs: [{url: 'http://127.0.0.1:9/alerts'}]
"""
ACK_SECRET = "ack-secret-0123456789abcdef"
CALLBACK_TOKEN = "voice-callback-token-0123456789"


@pytest.fixture
def database(sqlite_url: str) -> Database:
    db = Database(sqlite_url)
    db.upgrade(CONTROL_PLANE_HISTORY)
    return db


def alerting_yaml(tmp_path: Path, text: str) -> str:
    path = tmp_path / "alerting.yaml"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    ("given", "missing"),
    [
        ({}, ["alerting.ack_secret", "alerting.voice_callback_token"]),
        ({"voice_callback_token": CALLBACK_TOKEN}, ["alerting.ack_secret"]),
        ({"ack_secret": ACK_SECRET}, ["alerting.voice_callback_token"]),
    ],
)
def test_escalations_and_voice_calls_do_not_start_without_their_secrets(
    tmp_path: Path, database: Database, given: dict[str, str], missing: list[str]
) -> None:
    config = alerting_yaml(tmp_path, ESCALATING_WITH_VOICE)
    settings = AlertingSettings.model_validate({"config": config, **given})
    with pytest.raises(ConfigError) as caught:
        build_alerting(settings, database, ManualClock(), liveness=LivenessRegistry())
    assert [problem.key for problem in caught.value.problems] == missing


async def test_with_both_secrets_links_are_signed_with_the_configured_one(
    tmp_path: Path, database: Database
) -> None:
    config = alerting_yaml(tmp_path, ESCALATING_WITH_VOICE)
    settings = AlertingSettings.model_validate(
        {"config": config, "ack_secret": ACK_SECRET, "voice_callback_token": CALLBACK_TOKEN}
    )
    built = [
        build_alerting(settings, database, ManualClock(), liveness=LivenessRegistry())
        for _ in range(2)
    ]
    try:
        # Two processes (or a restart) sign the same link alike: a link sent stays good.
        first, second = (alerting.ack_links for alerting in built if alerting is not None)
        assert first is not None and second is not None
        assert first.url("g", 7) == second.url("g", 7)
        assert all(a is not None and a.voice_callback_token for a in built)
    finally:
        for alerting in built:
            if alerting is not None:
                await alerting.client.aclose()


async def test_a_config_that_neither_escalates_nor_calls_needs_neither_secret(
    tmp_path: Path, database: Database
) -> None:
    settings = AlertingSettings(config=alerting_yaml(tmp_path, ONLY_A_WEBHOOK))
    alerting = build_alerting(settings, database, ManualClock(), liveness=LivenessRegistry())
    assert alerting is not None
    try:
        assert alerting.ack_links is None  # no episode a link could acknowledge
        assert alerting.voice_callback_token is None
    finally:
        await alerting.client.aclose()


def test_short_secrets_are_refused_in_the_settings() -> None:
    with pytest.raises(ValidationError, match="ack_secret"):
        Settings.model_validate({"alerting": {"ack_secret": "short"}})
    with pytest.raises(ValidationError, match="voice_callback_token"):
        Settings.model_validate({"alerting": {"voice_callback_token": "short"}})


def test_smsctl_run_names_the_missing_secret_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], sqlite_url: str
) -> None:
    settings = tmp_path / "smsctl.yaml"
    config = alerting_yaml(tmp_path, ESCALATING_WITH_VOICE)
    settings.write_text(f"database: {{url: '{sqlite_url}'}}\nalerting: {{config: '{config}'}}\n")
    assert main(["--config", str(settings), "run"]) == 2
    assert "alerting.ack_secret: required" in capsys.readouterr().err
