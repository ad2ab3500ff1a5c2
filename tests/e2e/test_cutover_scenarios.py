"""Fault scenarios end to end: a supplier fails under steady traffic, the control plane cuts it
out of the carrier's routes on its own, says so, loses no message, and brings it back by canary
once the fault is over. The whole system runs in this process on the memory bus and SQLite
(and again on JetStream + MariaDB); faults go in through the simulators' fault plans."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

from outcome_checks import (
    StoredOutcome,
    assert_no_message_lost_or_sent_twice,
    notified,
    read_outcome,
    taken_by_supplier,
    wait_for_notified,
    wait_until_all_submitted,
)
from route_checks import (
    fully_active,
    out_of_traffic,
    path_of,
    routing_versions,
    untouched_elsewhere,
    version_time,
    wait_for_route_states,
)
from steady_traffic import steady_traffic
from system_world import (
    FAST_PLAN,
    Backend,
    RunningSystem,
    running_system,
)

from testbench.demo.scenario import degraded_plan

RATE = 60.0  # messages/s over all suppliers: 8/s for aliyun to each carrier
WARM_UP_S = 3.0  # healthy traffic first: the health model learns the usual rates and delays
HOLD_S = 1.0  # the fault stays on this long after the cut-over
CLASSES = ("otp", "notification", "marketing")
CARRIERS = ("cmcc", "cucc", "ctcc")


async def _fault_then_recovery(
    system: RunningSystem,
    supplier: str,
    carriers: tuple[str, ...],
    faulty_plan: dict[str, Any],
    alertname: str,
) -> tuple[dict[str, tuple[str, str]], list[dict[str, Any]]]:
    """Steady traffic; the fault until the supplier is out of the carriers' routes; then the
    healthy plan until it is back in full. The rule watching for the fault fired and people
    were told, naming the supplier. Returns the accepted messages and every version."""
    async with steady_traffic(system.api_url, system.tenant_token, RATE) as traffic:
        await asyncio.sleep(WARM_UP_S)
        system.set_plan(supplier, faulty_plan)
        for carrier in carriers:
            await wait_for_route_states(system, supplier, carrier, out_of_traffic, 30, "cut-over")
        await asyncio.sleep(HOLD_S)
        system.set_plan(supplier, FAST_PLAN)
        for carrier in carriers:
            await wait_for_route_states(system, supplier, carrier, fully_active, 60, "failback")
    await wait_until_all_submitted(system, traffic.accepted.messages)
    assert traffic.accepted.refused == []
    [alert, *_] = await wait_for_notified(system, alertname=alertname, supplier=supplier)
    assert alert["annotations"]["summary"].startswith(f"{supplier} "), alert
    return traffic.accepted.messages, await routing_versions(system)


def _assert_cut_over_then_failed_back_by_canary(
    versions: list[dict[str, Any]], supplier: str, carrier: str
) -> None:
    """On each of the carrier's routes: active → ejected, and after the last ejection (a canary
    that began while the fault was still on is ejected again) probing 10 % → 50 % → active.
    Each change is a new stored version made by automation."""
    for message_class in CLASSES:
        path = path_of(versions, supplier, carrier, message_class)
        assert [state for state, _ in path[:2]] == ["active", "ejected"], (message_class, path)
        last_out = max(i for i, (state, _) in enumerate(path) if state == "ejected")
        assert path[last_out + 1 :] == [("probing", 0.1), ("probing", 0.5), path[0]], path
    assert [v["version"] for v in versions] == list(range(1, len(versions) + 1))
    assert all(v["changed_by"] for v in versions[1:])


def _first_version_where(
    versions: list[dict[str, Any]], supplier: str, carrier: str, state: str
) -> dict[str, Any]:
    return next(
        version
        for version in versions
        if any(
            route["carrier"] == carrier
            and any(e["supplier"] == supplier and e["state"] == state for e in route["suppliers"])
            for route in version["routes"]
        )
    )


async def test_supplier_is_cut_over_when_its_delivery_drops_to_60_percent_on_one_carrier(
    backend: Backend, tmp_path: Path
) -> None:
    supplier, carrier = "aliyun", "cmcc"
    faulty = degraded_plan(FAST_PLAN, carrier, 0.6)
    async with running_system(backend, tmp_path) as system:
        accepted, versions = await _fault_then_recovery(
            system, supplier, (carrier,), faulty, "SupplierDeliveryRateLow"
        )
        outcome = await asyncio.to_thread(read_outcome, system.services.database)

    _assert_cut_over_then_failed_back_by_canary(versions, supplier, carrier)
    ejected = _first_version_where(versions, supplier, carrier, "ejected")
    canary = _first_version_where(versions, supplier, carrier, "probing")
    # Dispatchers apply a version within a second: none of the carrier's messages went to the
    # supplier from then until its canary began.
    quiet_from = version_time(ejected) + timedelta(seconds=1)
    taken_meanwhile = [
        m
        for m, (to_carrier, _) in accepted.items()
        if to_carrier == carrier
        and outcome.taken_by(m) == supplier
        and quiet_from <= outcome.accepted_at[m] < version_time(canary)
    ]
    assert taken_meanwhile == []
    # The supplier kept its other carriers; the cut-over was announced, naming it and why.
    assert untouched_elsewhere(versions, supplier, carrier)
    assert "delivery" in _announced_cutover(system, supplier, carrier)
    assert_no_message_lost_or_sent_twice(outcome, accepted)
    # Peers carried the carrier's traffic meanwhile; the supplier kept its other carriers.
    assert set(taken_by_supplier(outcome, accepted, carrier)) == {
        "aliyun",
        "tencent",
        "twilio",
        "cmpp",
    }


def _announced_cutover(system: RunningSystem, supplier: str, carrier: str) -> str:
    """The summary of the first cut-over notice for the supplier on the carrier."""
    [announced, *_] = notified(
        system, alertname="RouteChanged", action="cutover", supplier=supplier, carrier=carrier
    )
    summary: str = announced["annotations"]["summary"]
    assert f"cut over {supplier}→" in summary and f"on carrier {carrier}" in summary, summary
    return summary


async def _supplier_wide_fault(
    backend: Backend,
    tmp_path: Path,
    supplier: str,
    faulty_plan: dict[str, Any],
    signal: str,
    alertname: str,
) -> tuple[dict[str, tuple[str, str]], StoredOutcome]:
    """A fault that hits the supplier on every carrier: the rule's alert fires, the supplier is
    cut over on each carrier with a notice naming the signal, then failed back by canary;
    returns what was accepted and what was stored."""
    async with running_system(backend, tmp_path) as system:
        accepted, versions = await _fault_then_recovery(
            system, supplier, CARRIERS, faulty_plan, alertname
        )
        outcome = await asyncio.to_thread(read_outcome, system.services.database)
    for carrier in CARRIERS:
        _assert_cut_over_then_failed_back_by_canary(versions, supplier, carrier)
        assert signal in _announced_cutover(system, supplier, carrier)
    assert_no_message_lost_or_sent_twice(outcome, accepted)
    return accepted, outcome


async def test_supplier_whose_submit_api_returns_errors_is_cut_over_and_its_messages_retried(
    backend: Backend, tmp_path: Path
) -> None:
    failing = {**FAST_PLAN, "submit": {**FAST_PLAN["submit"], "error_rate": 1.0}}
    accepted, outcome = await _supplier_wide_fault(
        backend, tmp_path, "tencent", failing, "submits accepted", "SubmitErrorRateHigh"
    )

    # Every submit the supplier refused was retried on another supplier, under the same id.
    refused = [m for m in outcome.failed_submits if m in accepted]
    assert refused, "the fault never reached a message"
    assert all(outcome.taken_by(m) != "tencent" for m in refused)


async def test_supplier_that_stops_sending_receipts_is_cut_over_as_receipts_go_missing(
    backend: Backend, tmp_path: Path
) -> None:
    silent = {**FAST_PLAN, "receipts": {**FAST_PLAN["receipts"], "loss_rate": 1.0}}
    accepted, outcome = await _supplier_wide_fault(
        backend, tmp_path, "twilio", silent, "receipts missing", "ReceiptsMissing"
    )

    # The messages it took during the fault were sent once; only their receipts are missing.
    assert [m for m in accepted if outcome.taken_by(m) == "twilio" and m not in outcome.receipts]
