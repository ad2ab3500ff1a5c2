"""Who decides the policy: an operator's level, then a scheduled peak (a floor), then readings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from controlplane.actions.degradation_controller import DegradationController, ManualDegradation
from controlplane.settings import DegradationSettings, load_settings
from smsplatform.config.yamlsource import ConfigError

# 20:00 on 11 November in Beijing: the shopping festival night.
FESTIVAL_START = datetime(2026, 11, 11, 12, 0, tzinfo=UTC)
QUIET = {"ingest_rate": 100.0}


def settings(**changes: Any) -> DegradationSettings:
    raw: dict[str, Any] = {
        "min_dwell_up_s": 0,
        "min_dwell_down_s": 0,
        "sample_ratio": 0.1,
        "triggers": {
            "ingest_rate": {
                "levels": {
                    "sample": {"enter": 3000, "exit": 2000},
                    "shed_marketing": {"enter": 6000, "exit": 4500},
                }
            }
        },
        "schedules": [
            {
                "name": "singles-day",
                "cron": "0 20 11 11 *",
                "timezone": "Asia/Shanghai",
                "duration_s": 6 * 3600,
                "level": "sample",
                "sample_ratio": 0.2,
                "reason": "shopping festival night",
            }
        ],
    }
    return DegradationSettings.model_validate({**raw, **changes})


def test_a_scheduled_peak_degrades_from_its_cron_time_until_its_window_ends() -> None:
    controller = DegradationController(settings())

    before = controller.decide(FESTIVAL_START - timedelta(minutes=1), QUIET)
    during = controller.decide(FESTIVAL_START + timedelta(hours=3), QUIET)
    after = controller.decide(FESTIVAL_START + timedelta(hours=6), QUIET)

    assert (before.level, before.changed_by) == ("normal", "auto")
    assert (during.level, during.sample_ratio, during.changed_by) == (
        "sample",
        0.2,
        "schedule:singles-day",
    )
    assert during.until == FESTIVAL_START + timedelta(hours=6)
    assert during.reason == "shopping festival night"
    assert during.evidence["schedule"]["starts_at"] == FESTIVAL_START.isoformat()
    assert (after.level, after.until) == ("normal", None)


def test_readings_may_degrade_further_than_a_scheduled_peak_but_never_less() -> None:
    controller = DegradationController(settings())
    at = FESTIVAL_START + timedelta(minutes=5)

    heavy = controller.decide(at, {"ingest_rate": 7000.0})
    calm = controller.decide(at + timedelta(minutes=1), QUIET)

    assert (heavy.level, heavy.changed_by, heavy.sample_ratio) == ("shed_marketing", "auto", 1.0)
    assert "ingest_rate 7,000 ≥ shed_marketing enter 6,000" in heavy.reason
    assert (calm.level, calm.changed_by) == ("sample", "schedule:singles-day")


def test_an_operators_level_holds_exactly_until_it_ends() -> None:
    controller = DegradationController(settings())
    at = FESTIVAL_START + timedelta(minutes=5)
    controller.manual = ManualDegradation(
        "normal", 1.0, at + timedelta(hours=1), "festival traffic is fine", "alice"
    )

    held = controller.decide(at, {"ingest_rate": 7000.0})
    ended = controller.decide(at + timedelta(hours=1), {"ingest_rate": 7000.0})

    assert (held.level, held.changed_by, held.until) == (
        "normal",
        "operator:alice",
        at + timedelta(hours=1),
    )
    assert held.evidence["automatic_level"] == "shed_marketing"  # automation kept watching
    assert (ended.level, ended.changed_by) == ("shed_marketing", "auto")
    assert controller.manual is None


def test_sample_uses_the_configured_ratio_unless_told_otherwise() -> None:
    controller = DegradationController(settings(schedules=[]))

    target = controller.decide(FESTIVAL_START, {"ingest_rate": 3500.0})

    assert (target.level, target.sample_ratio) == ("sample", 0.1)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "smsctl.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        (
            "degradation:\n  schedules:\n    - name: x\n      cron: '0 25 * * *'\n"
            "      duration_s: 60\n      level: sample\n",
            "smsctl.yaml:4: degradation.schedules.0.cron: Value error, not a crontab expression",
        ),
        (
            "degradation:\n  schedules:\n    - name: x\n      cron: '0 20 * * *'\n"
            "      timezone: Mars/Olympus\n      duration_s: 60\n      level: sample\n",
            "degradation.schedules.0.timezone: Value error, unknown time zone 'Mars/Olympus'",
        ),
        (
            "degradation:\n  triggers:\n    ingest_rate:\n      levels:\n"
            "        sample: {enter: 100, exit: 100}\n",
            "smsctl.yaml:5: degradation.triggers.ingest_rate.levels.sample: Value error, exit must "
            "be below enter",
        ),
        (
            "degradation:\n  triggers:\n    bus_lag:\n      levels:\n"
            "        sample: {enter: 100, exit: 50}\n"
            "        shed_marketing: {enter: 90, exit: 60}\n",
            "degradation.triggers.bus_lag: Value error, a higher level needs higher enter and exit",
        ),
        (
            "degradation:\n  triggers:\n    ingest_rate:\n      levels:\n"
            "        shed_everything: {enter: 100, exit: 50}\n",
            "degradation.triggers.ingest_rate.levels.shed_everything",
        ),
    ],
)
def test_a_bad_degradation_section_is_refused_naming_file_line_and_field(
    tmp_path: Path, yaml_text: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(write(tmp_path, yaml_text), {})

    assert expected in str(raised.value)
