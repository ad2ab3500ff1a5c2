"""When each rule group is next due, on the injected clock: the engine's schedule, kept pure."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

from controlplane.engine.rules.model import RuleGroup

# A group keeps its place in the schedule across a reload while its file, name and interval stay.
GroupKey = tuple[str, str, float]


def group_key(group: RuleGroup) -> GroupKey:
    return (group.file, group.name, group.interval_s)


class GroupSchedule:
    """Each group's next due time: `interval` after the schedule starts, then every `interval`.

    Slots missed while nobody asked (a slow loop, a clock moved forward by hours) are not
    replayed: one run catches up, as APScheduler's `coalesce` does.
    """

    def __init__(
        self,
        groups: Sequence[RuleGroup],
        now: datetime,
        previous: GroupSchedule | None = None,
    ) -> None:
        kept = previous._next_due if previous is not None else {}
        self._groups = list(groups)
        self._next_due: dict[GroupKey, datetime] = {
            group_key(group): kept.get(group_key(group), now + timedelta(seconds=group.interval_s))
            for group in groups
        }

    def due(self, now: datetime) -> list[RuleGroup]:
        """The groups whose time has come at `now`; each moves on to its first slot after `now`."""
        ready = []
        for group in self._groups:
            key = group_key(group)
            next_due = self._next_due[key]
            if next_due > now:
                continue
            slots_passed = math.floor((now - next_due).total_seconds() / group.interval_s) + 1
            self._next_due[key] = next_due + timedelta(seconds=slots_passed * group.interval_s)
            ready.append(group)
        return ready
