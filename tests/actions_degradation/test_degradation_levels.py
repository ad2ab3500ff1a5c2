"""Automatic levels: hysteresis between enter and exit thresholds, minimum dwell, highest wins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from controlplane.actions.degradation_levels import AutomaticDegradation
from controlplane.settings import BusLagTrigger, DegradationTrigger, DegradationTriggers

T0 = datetime(2026, 11, 11, 12, 0, tzinfo=UTC)

INGEST = DegradationTrigger.model_validate(
    {
        "levels": {
            "sample": {"enter": 3000, "exit": 2000},
            "shed_marketing": {"enter": 6000, "exit": 4500},
            "shed_notification": {"enter": 12000, "exit": 9000},
        }
    }
)
LAG = BusLagTrigger.model_validate({"levels": {"shed_marketing": {"enter": 50000, "exit": 10000}}})


def automatic(dwell_up_s: float = 0, dwell_down_s: float = 0) -> AutomaticDegradation:
    return AutomaticDegradation(
        {"ingest_rate": INGEST, "bus_lag": LAG},
        min_dwell_up_s=dwell_up_s,
        min_dwell_down_s=dwell_down_s,
    )


def walk(auto: AutomaticDegradation, rates: list[float], step_s: float = 10) -> list[str]:
    levels = []
    for index, rate in enumerate(rates):
        levels.append(
            auto.step(
                T0 + timedelta(seconds=index * step_s), {"ingest_rate": rate, "bus_lag": 0}
            ).level
        )
    return levels


def test_a_rate_enters_sample_at_its_enter_threshold_and_leaves_only_below_its_exit() -> None:
    levels = walk(automatic(), [2500, 3000, 2500, 2100, 1999, 2500])

    assert levels == ["normal", "sample", "sample", "sample", "normal", "normal"]


def test_a_spike_jumps_straight_to_the_highest_level_it_reaches() -> None:
    assert walk(automatic(), [500, 13000]) == ["normal", "shed_notification"]


def test_stepping_down_goes_to_the_highest_level_whose_exit_the_rate_still_reaches() -> None:
    levels = walk(automatic(), [13000, 8000, 4400, 1000])

    assert levels == ["shed_notification", "shed_marketing", "sample", "normal"]


def test_a_level_is_held_for_its_minimum_dwell_before_stepping_down() -> None:
    auto = automatic(dwell_down_s=300)
    auto.step(T0, {"ingest_rate": 3500})

    held = auto.step(T0 + timedelta(seconds=299), {"ingest_rate": 100, "bus_lag": 0})
    left = auto.step(T0 + timedelta(seconds=300), {"ingest_rate": 100, "bus_lag": 0})

    assert (held.level, held.changed) == ("sample", False)
    assert (left.level, left.changed) == ("normal", True)
    assert "ingest_rate 100 < sample exit 2,000" in left.reason


def test_stepping_further_up_waits_for_the_shorter_up_dwell() -> None:
    auto = automatic(dwell_up_s=30, dwell_down_s=300)
    first = auto.step(T0, {"ingest_rate": 3500})

    early = auto.step(T0 + timedelta(seconds=10), {"ingest_rate": 7000})
    later = auto.step(T0 + timedelta(seconds=30), {"ingest_rate": 7000})

    assert first.level == "sample"  # from normal: nothing to dwell on yet
    assert early.level == "sample"
    assert later.level == "shed_marketing"
    assert "ingest_rate 7,000 ≥ shed_marketing enter 6,000" in later.reason


def test_the_highest_level_any_trigger_asks_for_wins() -> None:
    auto = automatic()

    step = auto.step(T0, {"ingest_rate": 3500, "bus_lag": 60000})

    assert step.level == "shed_marketing"
    assert step.reason == "bus_lag 60,000 ≥ shed_marketing enter 50,000"


def test_an_unreadable_trigger_holds_the_level_instead_of_guessing() -> None:
    auto = automatic()
    auto.step(T0, {"ingest_rate": 3500})

    step = auto.step(T0 + timedelta(seconds=10), {"ingest_rate": None, "bus_lag": 0})

    assert step.level == "sample"
    assert "ingest_rate: no reading, holding sample" in [v.why for v in step.votes]


def test_no_trigger_configured_means_normal_forever() -> None:
    auto = AutomaticDegradation({}, min_dwell_up_s=0, min_dwell_down_s=0)

    assert auto.step(T0, {}).level == "normal"


def test_triggers_section_defaults_to_none_configured() -> None:
    assert DegradationTriggers() == DegradationTriggers(
        ingest_rate=None, bus_lag=None, persist_latency=None
    )
