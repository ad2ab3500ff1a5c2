"""The alert path's supplier ranking: routing-table states first, then recent submit success."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from controlplane.alerting.supplier_health import SubmitSeen, SupplierHealth
from smsplatform.clock import ManualClock
from smsplatform.contracts import Route, RouteEntry, RoutingTable

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def routing(version: int, routes: dict[str, list[tuple[str, str, float]]]) -> RoutingTable:
    return RoutingTable(
        version=version,
        at=T0,
        routes=[
            Route(
                carrier=carrier,
                message_class="notification",
                suppliers=[RouteEntry(supplier=n, state=s, weight=w) for n, s, w in entries],  # type: ignore[arg-type]
            )
            for carrier, entries in routes.items()
        ],
    )


def submits(supplier: str, accepted: int, refused: int, at: datetime) -> list[SubmitSeen]:
    return [SubmitSeen(supplier, True, at)] * accepted + [SubmitSeen(supplier, False, at)] * refused


def test_ejected_and_draining_suppliers_are_never_ranked() -> None:
    health = SupplierHealth(ManualClock(T0))
    health.apply(routing(1, {"*": [("a", "ejected", 9), ("b", "draining", 9), ("c", "active", 1)]}))
    assert health.ranked("cmcc") == ["c"]
    assert health.excluded("cmcc") == {"a", "b"}


def test_a_carrier_route_overrides_the_catch_all_route() -> None:
    health = SupplierHealth(ManualClock(T0))
    health.apply(
        routing(1, {"*": [("a", "active", 1), ("b", "active", 1)], "cucc": [("a", "ejected", 1)]})
    )
    assert health.ranked("cucc") == []
    assert health.ranked("cmcc") == ["a", "b"]


def test_state_ranks_before_success_and_success_before_weight() -> None:
    clock = ManualClock(T0)
    health = SupplierHealth(clock)
    health.apply(
        routing(
            1,
            {"*": [("probe", "probing", 0.05), ("busy", "active", 5), ("steady", "active", 1)]},
        )
    )
    health.observe(submits("busy", 2, 18, T0))
    health.observe(submits("steady", 20, 0, T0))
    health.observe(submits("probe", 50, 0, T0))
    assert health.ranked("cmcc") == ["steady", "busy", "probe"]


def test_failures_older_than_the_window_are_forgotten() -> None:
    clock = ManualClock(T0)
    health = SupplierHealth(clock, window_s=300)
    health.apply(routing(1, {"*": [("a", "active", 1), ("b", "active", 1)]}))
    health.observe(submits("a", 0, 30, T0))
    health.observe(submits("b", 5, 5, T0 + timedelta(seconds=200)))
    assert health.ranked("cmcc") == ["b", "a"]
    clock.advance(400)  # a's failures are past the window, b's half-failures are not
    assert health.success("a") == (0, 0) and health.success("b") == (5, 10)
    assert health.ranked("cmcc") == ["a", "b"]


def test_an_older_table_never_replaces_a_newer_one() -> None:
    health = SupplierHealth(ManualClock(T0))
    assert health.apply(routing(5, {"*": [("a", "ejected", 1), ("b", "active", 1)]}))
    assert not health.apply(routing(4, {"*": [("a", "active", 1)]}))
    assert (health.version, health.ranked("cmcc")) == (5, ["b"])
