"""Known peaks on a schedule: the running service changes level at the peak's cron time, on the
injected clock, and goes back once the peak's window is over."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from degradation_world import T0, World, degradation_settings, degradation_world, until

# Singles' Day night: 20:00 to 21:00 UTC on 11 November (T0 is noon that day). Evaluations on
# the interval are an hour apart, so only the peak's own schedule can change the level here.
FESTIVAL = degradation_settings(
    evaluate_interval_s=3600,
    triggers={},
    schedules=[
        {
            "name": "double-11",
            "cron": "0 20 11 11 *",
            "duration_s": 3600,
            "level": "shed_marketing",
            "reason": "Singles' Day night",
        }
    ],
)


def _level(world: World) -> str:
    current = world.service.current
    return current.policy.level if current is not None else "normal"


async def test_a_scheduled_peak_changes_the_level_at_its_cron_time(sqlite_url: str) -> None:
    async with degradation_world(sqlite_url, FESTIVAL, schedule=True) as world:
        world.clock.advance((timedelta(hours=8) - timedelta(seconds=1)).total_seconds())
        await asyncio.sleep(0.3)  # the peak watch runs every 0.1 s: three looks at 19:59:59
        assert _level(world) == "normal"

        world.clock.advance(1)  # 20:00:00, the cron time
        await until(lambda: _level(world) == "shed_marketing", timeout_s=0.5)
        assert world.service.current is not None
        entered = world.service.current
        assert entered.policy.at == T0 + timedelta(hours=8)
        assert entered.policy.reason == "Singles' Day night"

        world.clock.advance(3600)  # 21:00:00, the window is over
        await until(lambda: _level(world) == "normal", timeout_s=0.5)
