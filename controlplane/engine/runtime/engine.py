"""The rule engine service: loads rules, schedules their groups, reloads them, feeds the windows."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Final

from apscheduler.executors.asyncio import AsyncIOExecutor
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from controlplane.engine.promql import PrometheusClient, RuleEvaluationMetrics
from controlplane.engine.rules import load_rule_paths, rule_files
from controlplane.engine.rules.model import RuleGroup, RuleSet
from controlplane.engine.runtime.alert_log import AlertLog
from controlplane.engine.runtime.evaluator import RuleEvaluator
from controlplane.engine.runtime.feeder import WindowFeeder
from controlplane.engine.runtime.group_schedule import GroupKey, GroupSchedule, group_key
from controlplane.engine.runtime.sink import AlertSink
from controlplane.engine.windows import WindowStore
from controlplane.settings import PrometheusSettings, RulesSettings
from controlplane.storage import AlertRepository
from smsplatform.bus import Bus
from smsplatform.bus.liveness import LivenessRegistry
from smsplatform.clock import Clock
from smsplatform.config.yamlsource import ConfigError

log = logging.getLogger(__name__)

# How often APScheduler asks the group schedule what is due. Due times are read off the injected
# clock, which APScheduler cannot read (it asks `datetime.now`), so it paces and the clock
# decides: a group runs at most this late, and a test that moves a ManualClock sees its groups
# run within this much real time.
PACE_S: Final = 0.1
PACER_EXECUTOR: Final = "rule-groups"


@dataclass(frozen=True)
class ReloadResult:
    """What a reload did: the new rule count, or the problems that kept the old rules."""

    ok: bool
    rule_count: int
    errors: tuple[str, ...] = ()


class RuleEngine:
    """Owns the windows, the current rule set and the schedule of its groups."""

    def __init__(
        self,
        settings: RulesSettings,
        prometheus: PrometheusSettings,
        bus: Bus,
        alerts: AlertRepository,
        sink: AlertSink,
        metrics: RuleEvaluationMetrics,
        clock: Clock,
        liveness: LivenessRegistry,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._sink = sink
        self._metrics = metrics
        self._alert_log = AlertLog(alerts)
        self._prometheus = PrometheusClient(prometheus.url, timeout_s=prometheus.query_timeout_s)
        self.store = WindowStore(clock, label_cap=settings.label_cap)
        self.feeder = WindowFeeder(bus, self.store, liveness=liveness)
        self.evaluator: RuleEvaluator | None = None
        self._scheduler: AsyncIOScheduler | None = None
        self._group_schedule: GroupSchedule | None = None
        self._running_groups: dict[GroupKey, asyncio.Task[None]] = {}
        self._watch_task: asyncio.Task[None] | None = None
        self._file_stamps: dict[Path, float] = {}
        self._reload_lock = asyncio.Lock()

    @property
    def paths(self) -> list[Path]:
        return [Path(p) for p in self._settings.paths]

    async def start(self) -> None:
        """Load the rules (a broken file stops start-up with its errors) and start evaluating."""
        rule_set = await asyncio.to_thread(load_rule_paths, self.paths) if self.paths else RuleSet()
        self._install(rule_set)
        await self.feeder.start()
        self._group_schedule = GroupSchedule(rule_set.groups, self._clock.now())
        self._start_pacer()
        if self._settings.watch and self.paths:
            self._file_stamps = self._stamps()
            self._watch_task = asyncio.create_task(self._watch(), name="rule-file-watch")
        log.info(
            "rule engine started groups=%d rules=%d", len(rule_set.groups), rule_set.rule_count
        )

    async def stop(self) -> None:
        if self._watch_task is not None:
            self._watch_task.cancel()
            await asyncio.gather(self._watch_task, return_exceptions=True)
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
        # Evaluations under way finish, so their alerts reach storage before it closes.
        await asyncio.gather(*self._running_groups.values(), return_exceptions=True)
        await self.feeder.stop()
        self._prometheus.close()

    async def reload(self) -> ReloadResult:
        """Re-read the rule files; on any error the running rules stay exactly as they were."""
        async with self._reload_lock:
            try:
                rule_set = await asyncio.to_thread(load_rule_paths, self.paths)
            except ConfigError as exc:
                errors = tuple(str(problem) for problem in exc.problems)
                log.error("rule reload rejected errors=%d first=%s", len(errors), errors[0])
                return ReloadResult(False, self.rule_count, errors)
            self._install(rule_set)
            if self._group_schedule is not None:
                self._group_schedule = GroupSchedule(
                    rule_set.groups, self._clock.now(), previous=self._group_schedule
                )
            log.info("rules reloaded groups=%d rules=%d", len(rule_set.groups), rule_set.rule_count)
            return ReloadResult(True, rule_set.rule_count)

    @property
    def rule_count(self) -> int:
        return self.evaluator.rule_set.rule_count if self.evaluator is not None else 0

    async def evaluate_all(self) -> None:
        """Evaluate every group once now (tests, `smsctl rules test`, and start-up warmth).

        A scheduled run of a group that is under way finishes first: a group never runs twice
        at once, so its alerts never see two evaluations interleave.
        """
        evaluator = self.evaluator
        if evaluator is None:
            return
        for group in evaluator.rule_set.groups:
            while (running := self._running_groups.get(group_key(group))) is not None:
                await asyncio.wait([running])
            await self._launch(group, evaluator.evaluate_group(group))

    def _install(self, rule_set: RuleSet) -> None:
        self.evaluator = RuleEvaluator(
            rule_set,
            self.store,
            self._alert_log,
            self._sink,
            self._prometheus,
            self._metrics,
            self._clock,
            external_url=self._settings.external_url,
            previous=self.evaluator,
        )

    def _start_pacer(self) -> None:
        # Its own executor alias, so its ten runs a second do not log two INFO lines each.
        logging.getLogger(f"apscheduler.executors.{PACER_EXECUTOR}").setLevel(logging.WARNING)
        self._scheduler = AsyncIOScheduler(
            timezone="UTC", executors={PACER_EXECUTOR: AsyncIOExecutor()}
        )
        self._scheduler.add_job(
            self._start_due_groups,
            IntervalTrigger(seconds=PACE_S),
            id="rule-groups",
            executor=PACER_EXECUTOR,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
        )
        self._scheduler.start()

    async def _start_due_groups(self) -> None:
        """Start each group that is due on the clock, in a task of its own.

        A slow group (a PromQL query waiting on its timeout) delays neither the others nor the
        pacer; a group still running when its next slot comes skips that slot.
        """
        if self._group_schedule is None:
            return
        for group in self._group_schedule.due(self._clock.now()):
            key = group_key(group)
            if key in self._running_groups:
                log.warning("group evaluation still running, slot skipped group=%s", group.name)
                continue
            self._launch(group, self._run_group(group))

    def _launch(
        self, group: RuleGroup, evaluation: Coroutine[Any, Any, None]
    ) -> asyncio.Task[None]:
        key = group_key(group)
        task = asyncio.create_task(evaluation, name=f"rule-group-{group.name}")
        self._running_groups[key] = task
        task.add_done_callback(partial(self._finished, key))
        return task

    def _finished(self, key: GroupKey, task: asyncio.Task[None]) -> None:
        if self._running_groups.get(key) is task:
            del self._running_groups[key]

    async def _run_group(self, group: RuleGroup) -> None:
        evaluator = self.evaluator
        if evaluator is None:
            return
        try:
            await evaluator.evaluate_group(group)
        except Exception:  # one group's failure must not stop the schedule
            log.exception("group evaluation failed group=%s", group.name)

    def _stamps(self) -> dict[Path, float]:
        stamps = {}
        for file in rule_files(self.paths):
            try:
                stamps[file] = file.stat().st_mtime
            except OSError:
                continue
        return stamps

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self._settings.watch_interval_s)
            try:
                stamps = await asyncio.to_thread(self._stamps)
            except ConfigError:
                continue  # a folder went missing: the reload that follows reports it
            if stamps != self._file_stamps:
                self._file_stamps = stamps
                log.info("rule files changed, reloading")
                await self.reload()
