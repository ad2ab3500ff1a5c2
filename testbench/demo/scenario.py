"""`smsctl demo`: fault scenario (a) run live against a running system, printed as a timeline.

Against `make run` (or any control plane whose send tier talks to our simulators): one
supplier's delivery rate drops on one carrier through its simulator's fault plan, and the
timeline shows what the control plane does about it, second by second: the alert, the routing
table's new version taking the supplier out of that carrier's routes, and, once the fault is
lifted, the failback by canary until the supplier carries its full share again. The simulator's
original plan is put back however the run ends.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import httpx

from controlplane.actions.cutover_settings import CutoverSettings
from controlplane.settings import Settings, load_settings, settings_path

ROUTING_PATH = "/v1/routing"
POLL_S = 0.1
# `make run` serves the simulators on the demo ports, aliyun's first (testbench/demo/platform.py).
DEFAULT_SIMULATOR = "http://127.0.0.1:8091"
OUT_OF_TRAFFIC = frozenset({"ejected", "draining"})
# A canary step lasts at least its window (and the dwell between two changes of a route), and
# longer while its few receipts have yet to show health: each step is allowed two.
STEP_SPANS_ALLOWED: Final = 2
# Polling, receipt delays and a loaded machine, on top of what the settings make it take.
FAILBACK_SLACK_S: Final = 60.0


def failback_timeout_s(cutover: CutoverSettings) -> float:
    """How long to wait for failback under these settings: the cool-down, then every canary
    step (`make run`'s 120 s and 1 % → 5 % → 25 % → 100 % of 30 s each: 420 s)."""
    step_s = max(cutover.failback.window_s, cutover.safety.min_dwell_s)
    steps_s = len(cutover.failback.steps) * STEP_SPANS_ALLOWED * step_s
    return cutover.failback.cooldown_s + steps_s + FAILBACK_SLACK_S


@dataclass(frozen=True)
class DemoTargets:
    """Where the system is, and the fault to inject."""

    control_url: str
    token: str
    simulator_url: str
    supplier: str = "aliyun"
    carrier: str = "cmcc"
    delivered_share: float = 0.6
    hold_s: float = 10.0  # how long the fault stays on once the supplier is out of traffic
    timeout_s: float = 300.0  # for the cut-over
    failback_timeout_s: float = failback_timeout_s(CutoverSettings())


@dataclass
class Timeline:
    """What happened, in seconds since `started` (the fault's onset); printed as it happens."""

    started: float = field(default_factory=time.monotonic)
    events: list[tuple[float, str, str]] = field(default_factory=list)  # (at_s, kind, text)
    out: Callable[[str], None] = print

    def add(self, kind: str, text: str) -> float:
        at_s = time.monotonic() - self.started
        self.events.append((at_s, kind, text))
        self.out(f"{at_s:+9.2f} s  {text}")
        return at_s

    def first(self, kind: str) -> float | None:
        return next((at_s for at_s, seen, _ in self.events if seen == kind), None)


@dataclass(frozen=True)
class ScenarioResult:
    """Seconds from the fault's onset to each milestone (None: not reached in time)."""

    to_alert_s: float | None
    to_cutover_s: float | None
    fault_end_s: float | None
    to_restored_s: float | None  # from onset; restored = active on every route of the carrier
    timeline: Timeline


def degraded_plan(plan: dict[str, Any], carrier: str, delivered_share: float) -> dict[str, Any]:
    """`plan` with deliveries to `carrier` succeeding at `delivered_share`, the rest failing."""
    changed = copy.deepcopy(plan)
    changed.setdefault("delivery", {})[carrier] = {
        "DELIVERED": delivered_share,
        "FAILED": round(1.0 - delivered_share, 6),
    }
    return changed


def supplier_states(table: dict[str, Any], supplier: str, carrier: str) -> dict[str, str]:
    """The supplier's state on each route of the carrier: message class → state."""
    return {
        route["message_class"]: entry["state"]
        for route in table["routes"]
        if route["carrier"] == carrier
        for entry in route["suppliers"]
        if entry["supplier"] == supplier
    }


def describe_states(
    states: dict[str, str], table: dict[str, Any], supplier: str, carrier: str
) -> str:
    """ "notification ejected, otp probing 10%": the states, with the canary's share."""
    weights = {
        route["message_class"]: entry["weight"]
        for route in table["routes"]
        if route["carrier"] == carrier
        for entry in route["suppliers"]
        if entry["supplier"] == supplier
    }
    return ", ".join(
        f"{cls} {state}" + (f" {weights[cls]:.0%}" if state == "probing" else "")
        for cls, state in sorted(states.items())
    )


class _Watcher:
    """Polls the routing table and the alerts, adding what changed to the timeline."""

    def __init__(self, http: httpx.AsyncClient, targets: DemoTargets, timeline: Timeline) -> None:
        self._http = http
        self._targets = targets
        self._timeline = timeline
        self._version: int | None = None
        self._alerts: set[str] = set()
        self.states: dict[str, str] = {}

    async def routing(self) -> dict[str, Any]:
        answer = await self._http.get(f"{self._targets.control_url}{ROUTING_PATH}")
        answer.raise_for_status()
        table: dict[str, Any] = answer.json()
        return table

    async def poll(self) -> None:
        table = await self.routing()
        targets = self._targets
        if table["version"] != self._version:
            self._version = table["version"]
            self.states = supplier_states(table, targets.supplier, targets.carrier)
            self._timeline.add(
                "routing",
                f"routing v{table['version']} by {table.get('changed_by') or '?'}: "
                f"{targets.supplier} on {targets.carrier}: "
                f"{describe_states(self.states, table, targets.supplier, targets.carrier)}"
                + (f" ({table['reason']})" if table.get("reason") else ""),
            )
        answer = await self._http.get(
            f"{targets.control_url}/v1/alerts", params={"state": "firing"}
        )
        answer.raise_for_status()
        for alert in answer.json()["alerts"]:
            labels = alert["labels"]
            if alert["fingerprint"] in self._alerts or labels.get("supplier") != targets.supplier:
                continue
            self._alerts.add(alert["fingerprint"])
            summary = alert["annotations"].get("summary", "")
            self._timeline.add("alert", f"alert {labels.get('alertname')} firing: {summary}")

    async def until(self, done: Callable[[], bool], timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            await self.poll()
            if done():
                return True
            await asyncio.sleep(POLL_S)
        return False


async def run_scenario_a(
    targets: DemoTargets,
    out: Callable[[str], None] = print,
    *,
    hold: Callable[[], Awaitable[object]] | None = None,
    watch_failback: bool = True,
) -> ScenarioResult:
    """Inject the fault, watch the cut-over, lift the fault, watch the failback.

    `hold`: what to wait for, once the supplier is out of traffic, before the fault is lifted
    (default: `targets.hold_s` seconds); a benchmark waits for another watcher to notice too.
    """
    headers = {"Authorization": f"Bearer {targets.token}"}
    async with httpx.AsyncClient(headers=headers, timeout=10.0) as http:
        timeline = Timeline(out=out)
        watcher = _Watcher(http, targets, timeline)
        await watcher.poll()  # the table before the fault
        plan_url = f"{targets.simulator_url}/_sim/plan"
        original = (await http.get(plan_url)).raise_for_status().json()
        faulty = degraded_plan(original, targets.carrier, targets.delivered_share)
        try:
            (await http.post(plan_url, json=faulty)).raise_for_status()
            timeline.started = time.monotonic()
            timeline.add(
                "fault",
                f"fault on: {targets.supplier} delivers {targets.delivered_share:.0%} "
                f"to {targets.carrier}",
            )

            def cut_over() -> bool:
                return any(state in OUT_OF_TRAFFIC for state in watcher.states.values())

            if await watcher.until(cut_over, targets.timeout_s):
                timeline.add("cutover", f"{targets.supplier} out of {targets.carrier} traffic")
                await (hold() if hold is not None else asyncio.sleep(targets.hold_s))
            else:
                timeline.add("timeout", f"no cut-over within {targets.timeout_s:.0f} s")
        finally:
            (await http.post(plan_url, json=original)).raise_for_status()
            fault_end = timeline.add("fault_end", f"fault off: {targets.supplier} healthy again")

        def restored() -> bool:
            return bool(watcher.states) and all(s == "active" for s in watcher.states.values())

        if watch_failback and timeline.first("cutover") is not None:
            if await watcher.until(restored, targets.failback_timeout_s):
                timeline.add("restored", f"{targets.supplier} back to full traffic")
            else:
                timeline.add("timeout", f"not restored within {targets.failback_timeout_s:.0f} s")
    return ScenarioResult(
        timeline.first("alert"),
        timeline.first("cutover"),
        fault_end,
        timeline.first("restored"),
        timeline,
    )


def add_demo_command(commands: argparse._SubParsersAction[Any]) -> None:
    demo = commands.add_parser(
        "demo", help="scenario (a) live against `make run`: a supplier fails, watch the cut-over"
    )
    demo.add_argument("--url", default="http://127.0.0.1:8080", help="the control plane")
    demo.add_argument(
        "--token",
        default=os.environ.get("SMSCTL_TOKEN", ""),
        help="operator token (default: $SMSCTL_TOKEN; `make run` prints its admin token)",
    )
    demo.add_argument("--simulator", default=DEFAULT_SIMULATOR, help="the supplier's simulator")
    demo.add_argument("--supplier", default="aliyun")
    demo.add_argument("--carrier", default="cmcc")
    demo.add_argument("--delivered", type=float, default=0.6, help="delivered share in the fault")
    demo.add_argument("--hold", type=float, default=10.0, help="seconds the fault stays on")
    demo.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for cut-over")
    demo.add_argument(
        "--failback-timeout",
        type=float,
        help="seconds to wait for failback (default: from the cutover settings of --config)",
    )
    demo.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace) -> int:
    if not 0.0 <= args.delivered < 1.0:
        print("--delivered: a share in [0, 1), e.g. 0.6", flush=True)
        return 2
    if not args.token:
        print("--token (or $SMSCTL_TOKEN): the control plane's operator token", flush=True)
        return 2
    failback_s = args.failback_timeout
    if failback_s is None:
        failback_s = failback_timeout_s(_settings_file(args.config).cutover)
    targets = DemoTargets(
        args.url.rstrip("/"),
        args.token,
        args.simulator.rstrip("/"),
        args.supplier,
        args.carrier,
        args.delivered,
        args.hold,
        args.timeout,
        failback_s,
    )
    print(
        f"waiting up to {targets.timeout_s:.0f} s for cut-over, "
        f"{targets.failback_timeout_s:.0f} s for failback",
        flush=True,
    )
    try:
        result = asyncio.run(run_scenario_a(targets, lambda line: print(line, flush=True)))
    except httpx.HTTPError as exc:
        print(f"demo: {exc!r} (is `make run` running, and is the token right?)", flush=True)
        return 1
    print(_summary(result), flush=True)
    return 0 if result.to_restored_s is not None else 1


def _settings_file(path: Path | None) -> Settings:
    """The settings `make run` reads: --config, else ./smsctl.yaml when present (as `run`)."""
    return load_settings(settings_path(path), os.environ)


def _summary(result: ScenarioResult) -> str:
    def seconds(value: float | None) -> str:
        return f"{value:.1f} s" if value is not None else "not reached"

    return (
        f"onset → alert {seconds(result.to_alert_s)}, "
        f"onset → cut-over {seconds(result.to_cutover_s)}, "
        f"onset → restored {seconds(result.to_restored_s)}"
    )
