"""The cut-over policy: who is ejected, when it may not be, and how it comes back by canary."""

from __future__ import annotations

import random
from datetime import datetime

from controlplane.actions.cutover import CutoverPolicy, RuleRequest
from controlplane.actions.cutover_settings import CutoverSettings
from controlplane.actions.decisions import Cause, Round
from controlplane.actions.health import HealthModel
from controlplane.actions.route_edits import (
    HomeWeights,
    find_route,
    initial_table,
    replace_routes,
    with_entry,
)
from smsplatform.clock import ManualClock
from smsplatform.contracts import MessageClass, RouteEntry, RoutingTable, SupplierLog
from tests.actions_cutover.world import T0, cutover_settings, one_route, receipts_for_one_second

HEALTHY = {"aliyun": 0.97, "tencent": 0.97, "twilio": 0.97, "cmpp": 0.97}


class World:
    """A policy over a table, fed one second of receipts at a time; rounds are applied."""

    def __init__(self, settings: CutoverSettings | None = None) -> None:
        self.settings = settings or cutover_settings()
        self.clock = ManualClock(T0)
        self.health = HealthModel(self.settings.health)
        self.policy = CutoverPolicy(
            self.settings, self.health, HomeWeights.of(self.settings.routes)
        )
        self.table = initial_table(self.settings.routes, T0)
        self.rng = random.Random(11)
        self.rounds: list[Round] = []
        self.round_times: list[datetime] = []

    def run(self, seconds: int, rates: dict[str, float], per_s: int = 10) -> None:
        for _ in range(seconds):
            self.clock.advance(1.0)
            now = self.clock.now()
            serving = {
                s: r
                for s, r in rates.items()
                if self.state_of(s) in ("active", "probing", "pinned")
            }
            share = {
                s: self.entry(s).weight if self.state_of(s) == "probing" else 1.0 for s in serving
            }
            batch = [
                r
                for r in receipts_for_one_second(self.clock, serving, self.rng, per_s)
                if self.rng.random() < share[r.supplier]
            ]
            self.health.observe_receipts(batch, now)
            self.round()

    def round(self) -> Round:
        now = self.clock.now()
        outcome = self.policy.decide(self.table, now)
        if outcome.decisions:
            routes = replace_routes(self.table, [d.route for d in outcome.decisions])
            self.table = RoutingTable(version=self.table.version + 1, at=now, routes=routes)
            self.policy.changed([d.route for d in outcome.decisions], now)
        self.rounds.append(outcome)
        self.round_times.append(now)
        return outcome

    def entry(self, supplier: str, carrier: str = "cmcc", cls: MessageClass = "otp") -> RouteEntry:
        route = find_route(self.table, carrier, cls)
        assert route is not None
        return next(e for e in route.suppliers if e.supplier == supplier)

    def state_of(self, supplier: str, carrier: str = "cmcc", cls: MessageClass = "otp") -> str:
        return str(self.entry(supplier, carrier, cls).state)

    def out_of_balance(self, supplier: str) -> None:
        """The dispatcher tells of a supplier-wide failure: its account has no balance left."""
        log = SupplierLog(
            supplier=supplier,
            level="ERROR",
            code="BALANCE",
            text="no balance",
            at=self.clock.now(),
            fields={"error_class": "supplier_wide"},
        )
        self.health.observe_logs([log], self.clock.now())

    def summaries(self) -> list[str]:
        return [d.summary for r in self.rounds for d in r.decisions]

    def decided_at(self, action: str, cls: MessageClass = "otp") -> list[datetime]:
        """When rounds made `action` on cmcc's route of `cls`."""
        return [
            at
            for at, r in zip(self.round_times, self.rounds, strict=True)
            for d in r.decisions
            if (d.action, d.carrier, d.message_class) == (action, "cmcc", cls)
        ]


def test_supplier_is_cut_over_when_its_delivery_rate_drops_and_the_text_names_it() -> None:
    world = World()
    world.run(60, HEALTHY)
    assert world.summaries() == []
    world.run(5, dict(HEALTHY, aliyun=0.6))
    assert world.state_of("aliyun") == "ejected"
    assert world.state_of("aliyun", cls="marketing") == "ejected"
    assert world.state_of("aliyun", carrier="cucc") == "active"  # only the failing carrier
    first = world.summaries()[0]
    assert first.startswith("cut over aliyun→tencent,twilio,cmpp on carrier cmcc for class ")
    assert ": delivery " in first and " receipts" in first


def test_the_last_healthy_supplier_is_never_ejected_and_the_route_fails_static() -> None:
    world = World(one_route({"aliyun": 1.0}))
    world.run(30, {"aliyun": 0.97})
    world.run(10, {"aliyun": 0.5})
    assert world.state_of("aliyun") == "active"
    held = world.rounds[-1].fail_static
    assert [h.supplier for h in held] == ["aliyun"]
    assert "no healthy supplier would take its traffic" in held[0].summary


def test_no_more_than_the_configured_share_of_a_route_is_ejected_at_once() -> None:
    world = World()
    world.run(30, HEALTHY)
    world.run(20, dict(HEALTHY, aliyun=0.5, tencent=0.5, twilio=0.5))
    states = sorted(world.state_of(s) for s in HEALTHY)
    assert states.count("ejected") == 2  # 2 of 4 is the 50 % limit
    held = world.rounds[-1].fail_static
    assert len([h for h in held if h.message_class == "otp"]) == 1
    assert "3 of 4 suppliers would be out (max 50%)" in held[0].summary


def test_traffic_never_shifts_onto_a_supplier_without_balance() -> None:
    three = {"aliyun": 1.0, "tencent": 1.0, "twilio": 1.0}
    world = World(one_route(three, safety={"min_dwell_s": 0, "max_ejected_share": 0.7}))
    world.run(30, dict.fromkeys(three, 0.97))
    world.out_of_balance("tencent")
    world.run(10, {"aliyun": 0.5, "tencent": 0.97, "twilio": 0.97})
    assert world.state_of("aliyun") == "ejected"
    assert any(s.startswith("cut over aliyun→twilio on carrier cmcc") for s in world.summaries())


def test_the_one_supplier_left_stays_when_it_fails_too() -> None:
    world = World(one_route({"aliyun": 1.0, "tencent": 1.0}))
    world.run(30, {"aliyun": 0.97, "tencent": 0.97})
    world.out_of_balance("tencent")
    world.run(10, {"aliyun": 0.5, "tencent": 0.97})
    # tencent went first (no balance); aliyun, failing later, is all the route has left.
    assert (world.state_of("aliyun"), world.state_of("tencent")) == ("active", "ejected")
    assert any("supplier down: BALANCE no balance" in s for s in world.summaries())
    held = {h.supplier: h.summary for h in world.rounds[-1].fail_static}
    assert set(held) == {"aliyun"}
    assert "no healthy supplier would take its traffic" in held["aliyun"]


def test_a_route_changes_at_most_once_per_dwell() -> None:
    world = World(cutover_settings(safety={"min_dwell_s": 30.0, "max_ejected_share": 0.75}))
    world.run(30, HEALTHY)
    world.run(3, dict(HEALTHY, aliyun=0.3))
    assert world.state_of("aliyun") == "ejected"
    world.run(10, dict(HEALTHY, aliyun=0.3, tencent=0.3))
    assert world.state_of("tencent") == "active"  # within the dwell
    world.run(25, dict(HEALTHY, aliyun=0.3, tencent=0.3))
    assert world.state_of("tencent") == "ejected"


def test_a_pinned_route_is_left_to_the_operator() -> None:
    world = World()
    route = find_route(world.table, "cmcc", "otp")
    assert route is not None
    pinned = with_entry(route, "aliyun", "pinned", 40.0)
    world.table = RoutingTable(version=2, at=T0, routes=replace_routes(world.table, [pinned]))
    world.run(30, HEALTHY)
    world.run(10, dict(HEALTHY, aliyun=0.3))
    assert world.state_of("aliyun") == "pinned"
    assert world.state_of("aliyun", cls="marketing") == "ejected"
    [held] = world.rounds[-1].fail_static
    assert held.summary.startswith("fail static: aliyun on carrier cmcc for class otp is unfit")
    assert held.summary.endswith("but pinned by an operator")


def test_ejected_supplier_fails_back_by_canary_steps_to_its_full_weight() -> None:
    world = World()
    world.run(30, HEALTHY)
    world.run(5, dict(HEALTHY, aliyun=0.4))
    assert world.state_of("aliyun") == "ejected"
    world.run(60, HEALTHY, per_s=40)  # cool-down over: canary at 1 %
    assert world.entry("aliyun").state == "probing"
    world.run(200, HEALTHY, per_s=40)
    actions = [
        d.action
        for r in world.rounds
        for d in r.decisions
        if d.message_class == "otp" and d.carrier == "cmcc"
    ]
    assert actions == ["cutover", "canary", "promote", "promote", "restore"]
    # Every class on the carrier comes back: they share the supplier's evidence on it.
    for cls in ("otp", "marketing"):
        restored = world.entry("aliyun", cls=cls)
        assert (restored.state, restored.weight) == ("active", 40.0)
    otp_cmcc = [
        d
        for r in world.rounds
        for d in r.decisions
        if d.route.carrier == "cmcc" and d.message_class == "otp"
    ]
    shares = [d.evidence.get("share") for d in otp_cmcc if d.action != "cutover"]
    assert shares == [0.01, 0.05, 0.25, 1.0]


def test_unhealthy_canary_is_ejected_again_at_once() -> None:
    world = World()
    world.run(30, HEALTHY)
    world.run(5, dict(HEALTHY, aliyun=0.4))
    world.run(60, dict(HEALTHY, aliyun=0.4), per_s=40)
    assert world.entry("aliyun").state == "probing"
    world.run(120, dict(HEALTHY, aliyun=0.4), per_s=400)
    assert world.state_of("aliyun") == "ejected"
    assert any(s.startswith("canary failed: aliyun on carrier cmcc") for s in world.summaries())


def test_a_failing_canary_is_ejected_within_seconds_not_after_the_dwell_or_window() -> None:
    # Dwell and canary window are long beside detection (a few seconds at 1 % of 400/s): a
    # re-ejection that waited for either would come about 100 s after the canary began.
    world = World(
        cutover_settings(
            safety={"min_dwell_s": 100.0, "max_ejected_share": 0.5},
            failback={"cooldown_s": 60.0, "window_s": 100.0},
        )
    )
    failing = dict(HEALTHY, aliyun=0.4)
    world.run(30, HEALTHY)
    world.run(5, failing)
    world.run(100, failing, per_s=40)  # cooling down, then the dwell ends: canary at 1 %
    [canary_at] = world.decided_at("canary")
    world.run(110, failing, per_s=400)  # the fault is still on
    first_ejection, *_ = world.decided_at("eject_canary")
    assert (first_ejection - canary_at).total_seconds() <= 10


def test_firing_rule_ejects_and_holds_the_supplier_until_it_resolves() -> None:
    world = World(cutover_settings(failback={"cooldown_s": 10.0, "window_s": 5.0}))
    cause = Cause("rule delivery/Low firing: low", "rule:delivery/Low", {"rule": "delivery/Low"})
    world.policy.request("fp1", RuleRequest("cmpp", "cucc", None, cause))
    world.run(1, HEALTHY)
    assert world.state_of("cmpp", carrier="cucc") == "ejected"
    assert world.state_of("cmpp", carrier="cmcc") == "active"
    world.run(30, HEALTHY)
    assert world.state_of("cmpp", carrier="cucc") == "ejected"  # held while the alert fires
    world.policy.release("fp1")
    world.run(2, HEALTHY)
    assert world.entry("cmpp", carrier="cucc").state == "probing"


def test_a_carrier_served_by_the_any_route_gets_its_own_copy_when_cut_over() -> None:
    world = World(one_route({"aliyun": 1.0, "tencent": 1.0}, carrier="*"))
    world.run(30, {"aliyun": 0.97, "tencent": 0.97})
    world.run(5, {"aliyun": 0.4, "tencent": 0.97})
    carriers = {route.carrier: route for route in world.table.routes}
    assert set(carriers) == {"*", "cmcc"}
    assert world.state_of("aliyun", carrier="cmcc") == "ejected"
    assert world.state_of("aliyun", carrier="ctcc") == "active"  # others still use `*`


def test_a_healthy_standby_takes_the_traffic_of_a_failing_only_first_choice() -> None:
    world = World(one_route({"aliyun": 1.0, "tencent": 0.0}))
    world.run(30, {"aliyun": 0.97})
    world.run(5, {"aliyun": 0.4})
    assert world.state_of("aliyun") == "ejected"
    assert world.summaries()[0].startswith("cut over aliyun→tencent on carrier cmcc")


def test_a_canary_whose_version_was_never_stored_is_started_again() -> None:
    world = World()
    world.run(30, HEALTHY)
    world.run(5, dict(HEALTHY, aliyun=0.4))
    world.clock.advance(60)
    before = world.table
    assert world.round().decisions  # the canary round, as if storing its version then failed
    world.table = before
    world.policy.adopt(before, world.clock.now())
    world.clock.advance(5)
    assert [d.action for d in world.round().decisions] == ["canary"] * 2
