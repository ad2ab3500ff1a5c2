"""The clock: system time that freezegun can freeze, and a manual clock for timelines."""

from __future__ import annotations

from datetime import UTC, datetime

from freezegun import freeze_time

from smsplatform.clock import ManualClock, system_clock


def test_the_system_clock_follows_freezegun() -> None:
    with freeze_time("2026-11-25 08:00:00", tick=False) as frozen:
        assert system_clock.now() == datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
        before = system_clock.monotonic()
        frozen.tick(90)
        assert system_clock.now() == datetime(2026, 11, 25, 8, 1, 30, tzinfo=UTC)
        assert system_clock.monotonic() - before == 90


def test_a_manual_clock_moves_only_when_advanced() -> None:
    clock = ManualClock(datetime(2026, 11, 25, tzinfo=UTC))
    assert clock.now() == clock.now()
    clock.advance(2.5)
    assert clock.now() == datetime(2026, 11, 25, 0, 0, 2, 500000, tzinfo=UTC)
    assert clock.monotonic() == 2.5
