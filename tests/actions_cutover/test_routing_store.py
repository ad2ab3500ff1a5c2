"""Routing versions in storage, on SQLite and MariaDB: whole tables, evidence, one winner per
version number."""

from __future__ import annotations

from datetime import timedelta

from controlplane.actions.route_edits import initial_table
from controlplane.actions.routing_store import RoutingStore
from controlplane.storage import CONTROL_PLANE_HISTORY, Database
from smsplatform.contracts import RoutingTable
from tests.actions_cutover.world import T0, routes


def test_versions_are_stored_whole_and_a_taken_version_number_is_refused(
    database_url: str,
) -> None:
    database = Database(database_url)
    database.upgrade(CONTROL_PLANE_HISTORY)
    try:
        store = RoutingStore(database)
        first = initial_table(routes(), T0)
        assert store.add(first, {"source": "settings"})
        second = RoutingTable(
            version=2,
            at=T0 + timedelta(seconds=5),
            routes=first.routes[1:],
            changed_by="health-model",
            reason="cut over aliyun→tencent on carrier cmcc for class otp: delivery 41% …",
        )
        evidence = {"decisions": [{"rate": 0.41, "fingerprint": "ab" * 8, "events": 1240.0}]}
        assert store.add(second, evidence)
        # Another replica that decided from version 1 too loses: version 2 is taken.
        assert not store.add(RoutingTable(version=2, at=T0, routes=[]), {})
        latest = store.latest()
        assert latest is not None and latest.table == second
        assert latest.evidence == evidence
        assert [v.table.version for v in store.history(10)] == [2, 1]
        stored_first = store.get(1)
        assert stored_first is not None and stored_first.table == first
        assert latest.to_json()["reason"].startswith("cut over aliyun→tencent")
    finally:
        database.dispose()
