"""Cut-over in the running control plane: versions stored and published, faults acted on."""

from __future__ import annotations

import random
from pathlib import Path

import msgspec

from controlplane.actions.routing_store import RoutingStore
from controlplane.storage import Database
from smsplatform.bus import ROUTING, Bus
from smsplatform.clock import ManualClock
from smsplatform.contracts import RoutingTable
from tests.actions_cutover.service_world import (
    OPERATOR,
    RecordingSink,
    bearer,
    post_receipts,
    running,
    settings,
    state_of,
)
from tests.actions_cutover.world import SUPPLIERS, T0, receipt


def test_version_one_comes_from_the_configured_routes_and_is_stored(sqlite_url: str) -> None:
    clock = ManualClock(T0)
    with running(settings(sqlite_url), clock, RecordingSink()) as (client, _):
        table = client.get("/v1/routing", headers=bearer(OPERATOR)).json()
    assert (table["version"], table["changed_by"]) == (1, "settings")
    assert len(table["routes"]) == 4
    assert state_of(table, "aliyun", "cmcc", "otp") == "active"
    stored = RoutingStore(Database(sqlite_url)).latest()
    assert stored is not None and stored.table.version == 1


def test_the_newest_version_is_published_again_at_start(sqlite_url: str) -> None:
    clock = ManualClock(T0)
    with running(settings(sqlite_url), clock, RecordingSink()) as (client, _):
        drained = client.post(
            "/v1/routing/drain",
            json={"supplier": "twilio", "reason": "contract ends"},
            headers=bearer(OPERATOR),
        )
        assert drained.status_code == 200, drained.text
    with running(settings(sqlite_url), clock, RecordingSink()) as (client, service):
        assert client.portal is not None
        tables = client.portal.call(_drain_routing, service.bus)
        table = client.get("/v1/routing", headers=bearer(OPERATOR)).json()
    assert [t.version for t in tables] == [2]
    assert tables[0].changed_by == "operator:oncall-ann" and tables[0].reason == "contract ends"
    assert table["version"] == 2 and state_of(table, "twilio", "cucc", "marketing") == "draining"


async def _drain_routing(bus: Bus) -> list[RoutingTable]:
    subscription = await bus.subscribe(ROUTING, "test-reader")
    deliveries = await subscription.fetch(100, timeout=0.05)
    await subscription.close()
    return [msgspec.msgpack.decode(d.data, type=RoutingTable) for d in deliveries]


def test_a_supplier_failing_on_a_carrier_is_cut_over_and_people_are_told(
    sqlite_url: str,
) -> None:
    clock = ManualClock(T0)
    sink = RecordingSink()
    rng = random.Random(2)
    with running(settings(sqlite_url), clock, sink) as (client, service):
        for _ in range(30):  # half a minute of steady traffic at 10/s per supplier
            clock.advance(1)
            post_receipts(
                client,
                service,
                [
                    receipt(s, rng.random() < 0.97, clock.now())
                    for s in SUPPLIERS
                    for _ in range(10)
                ],
            )
        for _ in range(5):
            clock.advance(1)
            batch = [
                receipt(s, rng.random() < (0.5 if s == "aliyun" else 0.97), clock.now())
                for s in SUPPLIERS
                for _ in range(10)
            ]
            post_receipts(client, service, batch)
        table = client.get("/v1/routing", headers=bearer(OPERATOR)).json()
        versions = client.get("/v1/routing/versions", headers=bearer(OPERATOR)).json()["versions"]
        metrics = client.get("/metrics").text
        health = client.get("/v1/routing/health", headers=bearer(OPERATOR)).json()
    assert state_of(table, "aliyun", "cmcc", "otp") == "ejected"
    assert state_of(table, "aliyun", "cucc", "otp") == "active"
    assert table["changed_by"] == "health-model"
    [decision, *_] = table["evidence"]["decisions"]
    assert decision["evidence"]["signal"] == "delivery" and decision["evidence"]["rate"] < 0.8
    assert [v["version"] for v in versions] == [2, 1]
    [told, *_] = sink.summaries("RouteChanged")
    assert told.startswith("cut over aliyun→tencent,twilio,cmpp on carrier cmcc for class ")
    assert ": delivery " in told and " receipts (peers " in told
    aliyun = next(
        h for h in health["health"] if (h["supplier"], h["carrier"]) == ("aliyun", "cmcc")
    )
    assert not aliyun["healthy"] and aliyun["finding"].startswith("delivery ")
    assert {(e["carrier"], e["supplier"], e["canary_step"]) for e in health["ejections"]} == {
        ("cmcc", "aliyun", -1)
    }
    assert "smsctl_routing_version 2.0" in metrics
    assert 'smsctl_route_changes_total{action="cutover"} 2.0' in metrics
    assert 'smsctl_supplier_healthy{carrier="cmcc",supplier="aliyun"} 0.0' in metrics


def test_a_cut_over_notification_resolves_after_its_hold(sqlite_url: str) -> None:
    clock = ManualClock(T0)
    sink = RecordingSink()
    config = settings(sqlite_url, notice_hold_s=60, failback={"cooldown_s": 600})
    with running(config, clock, sink) as (client, service):
        post_receipts(client, service, [receipt("cmpp", False, clock.now()) for _ in range(40)])
        assert sink.summaries("RouteChanged")
        clock.advance(61)
        assert client.portal is not None
        client.portal.call(service.cutover.decide)
    assert sink.summaries("RouteChanged", firing=False) == sink.summaries("RouteChanged")


def test_rule_cutover_action_ejects_while_its_alert_fires(tmp_path: Path, sqlite_url: str) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        """
groups:
  - name: delivery
    interval: 5s
    rules:
      - alert: SupplierDeliveryLow
        source: receipts
        by: [supplier, carrier]
        window: 60s
        when: delivery_rate < 0.9 && total >= 20
        annotations:
          summary: "{{ labels.supplier }} delivery {{ value | percent }}"
        actions:
          - cutover: {supplier: "{{ labels.supplier }}", carrier: "{{ labels.carrier }}"}
"""
    )
    clock = ManualClock(T0)
    sink = RecordingSink()
    config = settings(sqlite_url, rules, health={"min_volume": 1000})  # the model stays quiet
    with running(config, clock, sink) as (client, service):
        healthy = [receipt("tencent", True, clock.now(), carrier="cucc") for _ in range(30)]
        failing = [receipt("twilio", i % 2 == 0, clock.now(), carrier="cucc") for i in range(30)]
        post_receipts(client, service, healthy + failing)
        assert client.portal is not None
        client.portal.call(service.rules.evaluate_all)
        table = client.get("/v1/routing", headers=bearer(OPERATOR)).json()
    assert state_of(table, "twilio", "cucc", "otp") == "ejected"
    assert state_of(table, "twilio", "cmcc", "otp") == "active"
    assert table["changed_by"] == "rule:delivery/SupplierDeliveryLow"
    evidence = table["evidence"]["decisions"][0]["evidence"]
    assert evidence["labels"]["supplier"] == "twilio" and evidence["value"] == 0.5
    [told, *_] = sink.summaries("RouteChanged")
    assert "rule delivery/SupplierDeliveryLow firing: twilio delivery 50" in told


def test_after_a_restart_an_ejected_supplier_still_fails_back_by_canary(sqlite_url: str) -> None:
    clock = ManualClock(T0)
    config = settings(sqlite_url)
    with running(config, clock, RecordingSink()) as (client, service):
        post_receipts(client, service, [receipt("cmpp", False, clock.now()) for _ in range(40)])
        table = client.get("/v1/routing", headers=bearer(OPERATOR)).json()
        assert state_of(table, "cmpp", "cmcc", "otp") == "ejected"
    sink = RecordingSink()
    with running(config, clock, sink) as (client, service):
        clock.advance(59)
        assert client.portal is not None
        assert client.portal.call(service.cutover.decide) is None  # the cool-down restarts
        clock.advance(1)
        canary = client.portal.call(service.cutover.decide)
    assert canary is not None and canary.changed_by == "failback"
    route = next(r for r in canary.routes if (r.carrier, r.message_class) == ("cmcc", "otp"))
    entry = next(e for e in route.suppliers if e.supplier == "cmpp")
    assert (entry.state, entry.weight) == ("probing", 0.01)
    assert sink.summaries("RouteChanged")[0].startswith("canary cmpp on carrier cmcc")
