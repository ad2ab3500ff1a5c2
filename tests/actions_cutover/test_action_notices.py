"""Rule actions reach their handlers after alerting; automatic actions tell people through it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from controlplane.actions.announcer import ActionAnnouncer
from controlplane.actions.decisions import FailStatic
from controlplane.engine.alerts import Alert, AlertState, AlertTransition
from controlplane.engine.rules.model import ActionKind, RuleAction
from controlplane.engine.runtime.sink import ActingAlertSink, AlertNotice
from tests.actions_cutover.service_world import RecordingSink
from tests.actions_cutover.world import T0


class Handler:
    def __init__(self, fail: bool = False) -> None:
        self.seen: list[tuple[str, AlertState]] = []
        self.fail = fail

    async def handle(self, notice: AlertNotice, action: RuleAction) -> None:
        self.seen.append((action.kind, notice.transition.current))
        if self.fail:
            raise RuntimeError("handler bug")


def notice(current: AlertState, previous: AlertState, kinds: Sequence[ActionKind]) -> AlertNotice:
    alert = Alert("f" * 16, {"alertname": "A"}, current, 0.5, T0)
    actions = tuple(RuleAction(kind, {}) for kind in kinds)
    return AlertNotice("g/A", AlertTransition(alert, previous, T0), {}, actions)


async def test_actions_run_when_an_alert_begins_firing_and_when_it_resolves() -> None:
    downstream = RecordingSink()
    sink = ActingAlertSink(downstream)
    broken, cutover = Handler(fail=True), Handler()
    sink.register("degrade", broken)
    sink.register("cutover", cutover)
    both: tuple[ActionKind, ...] = ("degrade", "cutover")
    await sink.deliver([notice(AlertState.PENDING, AlertState.INACTIVE, both)])
    await sink.deliver([notice(AlertState.FIRING, AlertState.PENDING, both)])
    await sink.deliver([notice(AlertState.FIRING, AlertState.FIRING, both)])
    await sink.deliver([notice(AlertState.RESOLVED, AlertState.FIRING, both)])
    # A failing handler neither hides the notices from alerting nor stops the other action.
    assert len(downstream.notices) == 4
    assert cutover.seen == [("cutover", AlertState.FIRING), ("cutover", AlertState.RESOLVED)]


async def test_a_fail_static_alert_fires_once_and_resolves_when_it_ends() -> None:
    sink = RecordingSink()
    announcer = ActionAnnouncer(sink, hold_s=300)
    held = FailStatic("cmcc", "otp", "aliyun", "fail static: aliyun ... no healthy supplier", {})
    await announcer.announce([], 2, [held], T0)
    await announcer.announce([], 2, [held], T0 + timedelta(seconds=1))
    await announcer.announce([], 2, [], T0 + timedelta(seconds=2))
    states = [(n.transition.alert.labels["alertname"], n.transition.current) for n in sink.notices]
    assert states == [
        ("RouteFailStatic", AlertState.FIRING),
        ("RouteFailStatic", AlertState.RESOLVED),
    ]
    fired, resolved = sink.notices
    assert fired.transition.alert.labels["severity"] == "critical"
    assert resolved.transition.alert.fingerprint == fired.transition.alert.fingerprint
    assert resolved.annotations["summary"].startswith("fail static: aliyun")
