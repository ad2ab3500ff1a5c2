"""Rule groups run on their own `interval`, timed by the injected clock (APScheduler paces)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient
from metrics_text import sample
from test_rule_engine_service import HEADERS, T0, running, settings

from controlplane.engine.runtime.engine import PACE_S
from smsplatform.clock import ManualClock

TWO_GROUPS = """
groups:
  - name: every-5s
    interval: 5s
    rules:
      - record: smsctl:receipts:fast
        source: receipts
        by: [supplier]
        window: 1m
        value: total
  - name: every-10s
    interval: 10s
    rules:
      - record: smsctl:receipts:slow
        source: receipts
        by: [supplier]
        window: 1m
        value: total
"""
RECORDED_BY_GROUP = {"every-5s": "smsctl:receipts:fast", "every-10s": "smsctl:receipts:slow"}


def runs(client: TestClient) -> dict[str, float]:
    """How many times each group has been evaluated, from /metrics."""
    page = client.get("/metrics").text
    return {
        group: sample(page, "smsctl_rule_evaluations_total", rule_group=group, rule=rule) or 0.0
        for group, rule in RECORDED_BY_GROUP.items()
    }


def last_evaluated(client: TestClient) -> dict[str, str | None]:
    rules = client.get("/v1/rules", headers=HEADERS).json()["rules"]
    return {rule["rule"].split("/")[0]: rule["last_evaluated_at"] for rule in rules}


def settle(client: TestClient, expected: dict[str, float]) -> None:
    """Wait (a few pacer ticks at most) until the run counts are `expected`, then make sure
    they stay there: a group must not run again before the clock reaches its next slot."""
    wait_until(lambda: runs(client) == expected, lambda: f"runs {runs(client)} != {expected}")
    time.sleep(3 * PACE_S)
    assert runs(client) == expected


def wait_until(condition: Callable[[], bool], describe: Callable[[], str]) -> None:
    deadline = time.monotonic() + 2.0
    while not condition():
        assert time.monotonic() < deadline, describe()
        time.sleep(0.02)


def test_each_group_runs_on_its_own_interval_of_the_injected_clock(
    tmp_path: Path, sqlite_url: str
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(TWO_GROUPS)
    clock = ManualClock(T0)
    with running(settings(sqlite_url, rules), clock) as (client, _):
        settle(client, {"every-5s": 0, "every-10s": 0})  # real time passing moves nothing

        clock.advance(4.9)
        settle(client, {"every-5s": 0, "every-10s": 0})
        clock.advance(0.1)
        settle(client, {"every-5s": 1, "every-10s": 0})
        assert last_evaluated(client)["every-5s"] == "2026-11-25T08:00:05+00:00"

        clock.advance(5)
        settle(client, {"every-5s": 2, "every-10s": 1})
        assert last_evaluated(client) == {
            "every-5s": "2026-11-25T08:00:10+00:00",
            "every-10s": "2026-11-25T08:00:10+00:00",
        }

        # An hour with nobody looking: one catch-up run each, not 720 replayed slots.
        clock.advance(3600)
        settle(client, {"every-5s": 3, "every-10s": 2})
        clock.advance(5)
        settle(client, {"every-5s": 4, "every-10s": 2})


def test_a_reload_keeps_the_slots_of_groups_it_did_not_change(
    tmp_path: Path, sqlite_url: str
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(TWO_GROUPS)
    clock = ManualClock(T0)
    with running(settings(sqlite_url, rules), clock) as (client, _):
        clock.advance(3)
        rules.write_text(TWO_GROUPS.replace("interval: 10s", "interval: 4s"))
        assert client.post("/v1/rules/reload", headers=HEADERS).status_code == 200

        clock.advance(2)  # every-5s keeps its slot at 5s; every-10s, now every 4s, starts at 3s
        settle(client, {"every-5s": 1, "every-10s": 0})
        clock.advance(2)
        settle(client, {"every-5s": 1, "every-10s": 1})
