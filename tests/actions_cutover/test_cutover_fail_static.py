"""The running cut-over service keeps a route's share limit and alerts when a route fails static."""

from __future__ import annotations

import random

from controlplane.engine.runtime.sink import AlertNotice
from smsplatform.clock import ManualClock
from smsplatform.contracts import RoutingTable
from tests.actions_cutover.service_world import (
    OPERATOR,
    RecordingSink,
    bearer,
    cutover_alone,
    post_receipts,
    running,
    settings,
    state_of,
)
from tests.actions_cutover.world import SUPPLIERS, T0, cutover_settings, receipt

FAILING = ("aliyun", "tencent", "twilio")
HELD_BY_THE_LIMIT = "3 of 4 suppliers would be out (max 50%)"


def fail_static_fired(sink: RecordingSink) -> list[AlertNotice]:
    return [n for n in sink.notices if labels(n)["alertname"] == "RouteFailStatic" and n.is_firing]


def labels(notice: AlertNotice) -> dict[str, str]:
    return dict(notice.transition.alert.labels)


def serving_cmcc_otp(table: RoutingTable | None) -> list[str]:
    """Who dispatch still sends cmcc otp traffic to: ejected suppliers get no more receipts."""
    assert table is not None
    route = next(r for r in table.routes if (r.carrier, r.message_class) == ("cmcc", "otp"))
    return [e.supplier for e in route.suppliers if e.state == "active"]


def test_three_of_four_suppliers_failing_eject_two_and_the_route_fail_static_is_alerted(
    sqlite_url: str,
) -> None:
    clock = ManualClock(T0)
    sink = RecordingSink()
    rng = random.Random(3)
    with running(settings(sqlite_url), clock, sink) as (client, service):
        for second in range(50):  # half a minute healthy, then three of four fail
            clock.advance(1)
            serving = serving_cmcc_otp(service.cutover.table)
            rate = {s: 0.4 if second >= 30 and s in FAILING else 0.97 for s in serving}
            batch = [receipt(s, rng.random() < rate[s], clock.now()) for s in serving * 10]
            post_receipts(client, service, batch)
        table = client.get("/v1/routing", headers=bearer(OPERATOR)).json()
        metrics = client.get("/metrics").text
    for cls in ("otp", "marketing"):
        states = {s: state_of(table, s, "cmcc", cls) for s in SUPPLIERS}
        assert list(states.values()).count("ejected") == 2  # 2 of 4 is the 50 % limit
        assert states["cmpp"] == "active"
    fired = fail_static_fired(sink)
    routes = {(labels(n)["carrier"], labels(n)["message_class"]) for n in fired}
    assert routes == {("cmcc", "otp"), ("cmcc", "marketing")}
    for notice in fired:
        held, cls = labels(notice)["supplier"], labels(notice)["message_class"]
        assert held in FAILING and state_of(table, held, "cmcc", cls) == "active"
        assert labels(notice)["severity"] == "critical"
        assert notice.annotations["summary"].startswith(f"fail static: {held} on carrier cmcc")
        assert notice.annotations["summary"].endswith(HELD_BY_THE_LIMIT)
    assert "smsctl_route_fail_static 2.0" in metrics


async def test_a_round_whose_version_another_writer_took_still_announces_its_fail_statics(
    sqlite_url: str,
) -> None:
    clock = ManualClock(T0)
    sink = RecordingSink()
    async with cutover_alone(cutover_settings(), sqlite_url, clock, sink) as service:
        assert service.table is not None
        elsewhere = RoutingTable(version=2, at=T0, routes=service.table.routes, changed_by="x")
        assert service.store.add(elsewhere, {"source": "another replica"})
        batch = [receipt(s, s not in FAILING, T0) for s in SUPPLIERS for _ in range(40)]
        await service.observe_receipts(batch)  # ejects two, holds the third: version 2 is taken
        conflict_notices = list(sink.notices)
        assert service.table.version == 2 and service.fail_static_now == 2
        decided_anew = await service.decide()
    # No route changed in the lost round, so only the fail-statics were told.
    assert [labels(n)["alertname"] for n in conflict_notices] == ["RouteFailStatic"] * 2
    assert all(n.annotations["summary"].endswith(HELD_BY_THE_LIMIT) for n in conflict_notices)
    assert decided_anew is not None and decided_anew.version == 3
    assert len(fail_static_fired(sink)) == 2  # the next round does not page again
