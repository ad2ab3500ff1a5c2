"""`smsctl alerting send-test`: channels built from the service settings, on-call resolved."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml

from smsctl.cli import main
from testbench.fakes.server import running_fake
from testbench.fakes.voice import VoiceFake

KEY_ID, KEY_SECRET, TTS = "LTAIvoice", "voice-secret", "TTS_100001"
ON_CALL = "+8613800138000"
ALERTING = f"""
route:
  receiver: phone-primary
receivers:
  - name: phone-primary
    voice_configs:
      - to: ['oncall:primary@sms-team']
        tts_code: {TTS}
oncall:
  schedules:
    - name: sms-team
      time_zone: Asia/Shanghai
      layers:
        - name: primary
          rotation: weekly
          start: 2026-01-05
          members: [{{name: zhang, phone: '{ON_CALL}'}}]
"""


async def test_send_test_calls_whoever_is_on_call_with_the_voice_account_from_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    voice = VoiceFake({KEY_ID: KEY_SECRET}, frozenset({TTS}))
    alerting = tmp_path / "alerting.yaml"
    alerting.write_text(ALERTING)
    async with running_fake(voice.app) as voice_url:
        settings = tmp_path / "smsctl.yaml"
        settings.write_text(
            yaml.safe_dump(
                {
                    "alerting": {
                        "config": str(alerting),
                        "voice_api_url": voice_url,
                        "voice_access_key_id": KEY_ID,
                        "voice_access_key_secret": KEY_SECRET,
                    }
                }
            )
        )
        # The command runs its own event loop, as it does from a shell.
        argv = ["--config", str(settings), "alerting", "send-test", "phone-primary"]
        code = await asyncio.to_thread(main, argv)
    assert code == 0
    assert capsys.readouterr().out.startswith("voice: delivered")
    [call] = voice.inbox.received
    assert call.endpoint == ON_CALL


def test_send_test_names_a_receiver_the_config_does_not_have(tmp_path: Path) -> None:
    alerting = tmp_path / "alerting.yaml"
    alerting.write_text(ALERTING)
    settings = tmp_path / "smsctl.yaml"
    settings.write_text("{}\n")
    argv = ["--config", str(settings), "alerting", "send-test", "--config", str(alerting), "nobody"]
    assert main(argv) == 2
