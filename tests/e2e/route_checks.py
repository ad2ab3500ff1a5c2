"""Reading the routing table the control plane owns, over its API, as an operator would."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from outcome_checks import wait_for
from system_world import RunningSystem

from testbench.demo.scenario import OUT_OF_TRAFFIC, supplier_states

Table = dict[str, Any]


async def routing_table(system: RunningSystem) -> Table:
    answer = await system.http.get("/v1/routing")
    assert answer.status_code == 200, answer.text
    table: Table = answer.json()
    return table


async def routing_versions(system: RunningSystem) -> list[Table]:
    """Every stored version, oldest first."""
    answer = await system.http.get("/v1/routing/versions", params={"limit": 1000})
    assert answer.status_code == 200, answer.text
    versions: list[Table] = answer.json()["versions"]
    return sorted(versions, key=lambda version: version["version"])


def out_of_traffic(states: dict[str, str]) -> bool:
    """The supplier serves none of the routes it is on (ejected or draining on each)."""
    return bool(states) and all(state in OUT_OF_TRAFFIC for state in states.values())


def fully_active(states: dict[str, str]) -> bool:
    return bool(states) and all(state == "active" for state in states.values())


async def wait_for_route_states(
    system: RunningSystem,
    supplier: str,
    carrier: str,
    wanted: Callable[[dict[str, str]], bool],
    timeout_s: float,
    what: str,
) -> Table:
    """Poll the table until the supplier's states on the carrier's routes are as wanted."""
    seen: list[Table] = []

    async def reached() -> bool:
        table = await routing_table(system)
        seen.append(table)
        return wanted(supplier_states(table, supplier, carrier))

    await wait_for(reached, timeout_s, f"{what} ({supplier} on {carrier})")
    return seen[-1]


def entry_of(table: Table, supplier: str, carrier: str, message_class: str) -> tuple[str, float]:
    """(state, weight) of the supplier in one route."""
    for route in table["routes"]:
        if route["carrier"] == carrier and route["message_class"] == message_class:
            for entry in route["suppliers"]:
                if entry["supplier"] == supplier:
                    return entry["state"], float(entry["weight"])
    raise AssertionError(f"{supplier} is not on route {carrier}/{message_class}")


def path_of(
    versions: list[Table], supplier: str, carrier: str, message_class: str
) -> list[tuple[str, float]]:
    """The supplier's (state, weight) on one route, version after version, repeats dropped."""
    path: list[tuple[str, float]] = []
    for version in versions:
        step = entry_of(version, supplier, carrier, message_class)
        if not path or path[-1] != step:
            path.append(step)
    return path


def untouched_elsewhere(versions: list[Table], supplier: str, carrier: str) -> bool:
    """The supplier stayed active on every route of every other carrier, in every version."""
    return all(
        entry["state"] == "active"
        for version in versions
        for route in version["routes"]
        if route["carrier"] != carrier
        for entry in route["suppliers"]
        if entry["supplier"] == supplier
    )


def version_time(version: Table) -> datetime:
    return datetime.fromisoformat(version["at"])
