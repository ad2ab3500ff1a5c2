"""Status-report degradation, run: evaluate on a schedule, store and publish versions, notify.

Levels: normal → sample → shed_marketing → shed_notification (see sendtier/persist/degradation.py
for what each sheds; OTP never). The controller decides (operator, scheduled peak, readings);
this service reads the readings, writes each new version to storage with its evidence,
publishes it on cp.degradation for the receipt gateway and persistence, and announces level
changes through the alerting stage.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Final

import msgspec
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from prometheus_client import CollectorRegistry, Gauge

from controlplane.actions.degradation_controller import (
    AUTOMATIC,
    OPERATOR_PREFIX,
    DegradationController,
    ManualDegradation,
    PolicyTarget,
    RuleDemand,
)
from controlplane.actions.degradation_levels import LEVELS
from controlplane.actions.degradation_notify import LevelChangeAnnouncer
from controlplane.actions.degradation_readings import (
    PersistFigures,
    PromQLReading,
    ReadingSource,
    ReceiptRate,
    build_sources,
    read_all,
)
from controlplane.actions.degradation_store import DegradationVersion, DegradationVersionRepository
from controlplane.engine.rules.model import RuleAction
from controlplane.engine.rules.templates import RuleTemplate, TemplateContext
from controlplane.engine.runtime.sink import AlertNotice, AlertSink
from controlplane.settings import DegradationSettings, PrometheusSettings
from controlplane.storage import Database
from smsplatform.bus import DEGRADATION, Bus
from smsplatform.bus.liveness import LivenessRegistry
from smsplatform.clock import Clock
from smsplatform.contracts import DegradationLevel, DegradationPolicy

log = logging.getLogger(__name__)

# How long a level-change notice stays firing before it resolves (when no change comes first).
ANNOUNCE_HOLD_S: Final = 600.0
# How often the calendar is asked whether a scheduled peak began or ended. Peaks are read off
# the injected clock, which APScheduler cannot read (its cron jobs fire on `datetime.now`), so it
# paces and the clock decides: a peak takes effect at most this late.
PEAK_PACE_S: Final = 0.1


class DegradationRequestError(ValueError):
    """An operator's request that cannot be carried out; `field` names what is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class DegradationMetrics:
    """The gauges of the policy in force, on the control plane's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.level = Gauge(
            "smsctl_degradation_level",
            "1 for the status-report degradation level in force, 0 for the others.",
            ["level"],
            registry=registry,
        )
        self.version = Gauge(
            "smsctl_degradation_version",
            "Version of the degradation policy last published (0: none yet).",
            registry=registry,
        )

    def show(self, policy: DegradationPolicy) -> None:
        self.version.set(policy.version)
        for level in LEVELS:
            self.level.labels(level).set(1 if level == policy.level else 0)


class DegradationService:
    """One control plane's degradation: the controller, its sources, storage, bus and notices."""

    def __init__(
        self,
        settings: DegradationSettings,
        *,
        bus: Bus,
        database: Database,
        sources: Mapping[str, ReadingSource],
        sink: AlertSink,
        registry: CollectorRegistry,
        clock: Clock,
    ) -> None:
        self.settings = settings
        self.controller = DegradationController(settings)
        self.versions = DegradationVersionRepository(database)
        self._bus = bus
        self.sources = dict(sources)
        self._announcer = LevelChangeAnnouncer(sink, ANNOUNCE_HOLD_S)
        self._metrics = DegradationMetrics(registry)
        self._clock = clock
        self._current: DegradationVersion | None = None
        self._published = 0
        self._last_readings: dict[str, float | None] = {}
        # One change at a time: evaluations, operators and restarts must not interleave versions.
        self._lock = asyncio.Lock()
        self._scheduler: AsyncIOScheduler | None = None
        self._peak_seen: tuple[str, datetime] | None = None  # (name, start) of the last peak seen

    @property
    def current(self) -> DegradationVersion | None:
        """The newest version this service knows (stored and, normally, published)."""
        return self._current

    async def start(self, *, schedule: bool = True) -> None:
        """Carry on from the newest stored version, republish it, then evaluate on a schedule.

        `schedule=False` leaves evaluating to the caller (tests drive `evaluate`).
        """
        newest = await asyncio.to_thread(self.versions.newest)
        if newest is not None:
            self._restore(newest)
            await self._publish(newest)
        for source in self.sources.values():
            if isinstance(source, ReceiptRate):
                await source.start()
        if schedule and self.settings.enabled:
            self._scheduler = AsyncIOScheduler(timezone="UTC")
            interval = IntervalTrigger(seconds=self.settings.evaluate_interval_s)
            self._scheduler.add_job(self._evaluate_logged, interval, id="degradation-evaluate")
            if self.controller.calendar.entries:
                self._scheduler.add_job(
                    self._watch_peaks,
                    IntervalTrigger(seconds=PEAK_PACE_S),
                    id="degradation-peaks",
                    max_instances=1,
                    coalesce=True,
                    misfire_grace_time=None,
                )
            self._scheduler.start()
        log.info(
            "degradation.started version=%s level=%s triggers=%s schedules=%d",
            newest.policy.version if newest else 0,
            newest.policy.level if newest else "normal",
            ",".join(self.sources) or "-",
            len(self.settings.schedules),
        )

    async def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        for source in self.sources.values():
            if isinstance(source, ReceiptRate):
                await source.stop()
            elif isinstance(source, PromQLReading):
                source.close()

    async def evaluate(self) -> DegradationVersion | None:
        """Read every trigger, decide, and apply; the new version if the policy changed."""
        now = self._clock.now()
        readings = await read_all(self.sources, now)
        async with self._lock:
            self._last_readings = readings
            target = self.controller.decide(now, readings)
            changed = await self._apply(target, now)
            if changed is None and self._current is not None:
                if self._published < self._current.policy.version:
                    await self._publish(self._current)  # a publish that failed before
                await self._announcer.expire(now)
            return changed

    async def set_manual(
        self,
        level: DegradationLevel,
        *,
        until: datetime,
        reason: str,
        operator: str,
        sample_ratio: float | None = None,
    ) -> DegradationVersion:
        """An operator's level, held until `until` (or `clear_manual`)."""
        now = self._clock.now()
        if until <= now:
            raise DegradationRequestError("until", "until must be in the future")
        if sample_ratio is not None and level != "sample":
            raise DegradationRequestError("sample_ratio", "a sample ratio applies only to sample")
        if not reason.strip():
            raise DegradationRequestError("reason", "say why (it is stored and announced)")
        async with self._lock:
            self.controller.manual = ManualDegradation(
                level, sample_ratio or self.controller.default_ratio, until, reason, operator
            )
            target = self.controller.decide(now, self._last_readings)
            await self._apply(target, now)
            assert self._current is not None  # set by _apply, or already the same policy
            return self._current

    async def clear_manual(self, operator: str) -> DegradationVersion | None:
        """End an operator's level now; automation (or a scheduled peak) takes over again."""
        now = self._clock.now()
        async with self._lock:
            if self.controller.manual is None:
                raise DegradationRequestError("level", "no operator level is in force")
            log.info("degradation.cleared operator=%s", operator)
            self.controller.manual = None
            target = self.controller.decide(now, self._last_readings)
            return await self._apply(target, now)

    async def handle(self, notice: AlertNotice, action: RuleAction) -> None:
        """A rule's `degrade` action: its level holds (as a floor) while the alert fires."""
        alert = notice.transition.alert
        demands = self.controller.rule_demands
        if notice.is_resolved:
            if demands.pop(alert.fingerprint, None) is None:
                return
        else:
            context = TemplateContext(labels=alert.labels, value=alert.value)
            level_param = action.params.get("level")
            level = level_param.render(context) if isinstance(level_param, RuleTemplate) else ""
            if level not in LEVELS:
                log.error("event=degrade_rule_unusable rule=%s level=%r", notice.rule_key, level)
                return
            ratio = action.params.get("sample_ratio")
            demands[alert.fingerprint] = RuleDemand(
                level,
                ratio if isinstance(ratio, float) else None,
                notice.rule_key,
                notice.annotations.get("summary") or f"value {alert.value}",
            )
        now = self._clock.now()
        async with self._lock:
            await self._apply(self.controller.decide(now, self._last_readings), now)

    def history(self, limit: int = 50) -> list[DegradationVersion]:
        return self.versions.history(limit)

    async def _watch_peaks(self) -> None:
        """Evaluate the moment a scheduled peak begins or ends, not up to an interval later."""
        peak = self.controller.calendar.active(self._clock.now())
        seen = (peak.name, peak.starts_at) if peak is not None else None
        if seen != self._peak_seen:
            self._peak_seen = seen
            await self._evaluate_logged()

    async def _evaluate_logged(self) -> None:
        try:
            await self.evaluate()
        except Exception:  # one failed evaluation must not stop the schedule
            log.exception("degradation.evaluate_failed")

    def _restore(self, newest: DegradationVersion) -> None:
        self._current = newest
        policy = newest.policy
        self._metrics.show(policy)
        if newest.changed_by == AUTOMATIC:
            self.controller.automatic.restore(policy.level, policy.at)
        elif newest.changed_by.startswith(OPERATOR_PREFIX) and policy.until is not None:
            self.controller.manual = ManualDegradation(
                policy.level,
                policy.sample_ratio,
                policy.until,
                policy.reason,
                newest.changed_by.removeprefix(OPERATOR_PREFIX),
            )

    async def _apply(self, target: PolicyTarget, now: datetime) -> DegradationVersion | None:
        """Store and publish `target` as the next version when it changes the policy."""
        current = self._current
        if not target.differs_from(current.policy if current else None):
            return None
        previous: DegradationLevel = current.policy.level if current else "normal"
        number = (current.policy.version if current else 0) + 1
        version = DegradationVersion(
            DegradationPolicy(
                version=number,
                at=now,
                level=target.level,
                sample_ratio=target.sample_ratio,
                until=target.until,
                reason=target.reason,
            ),
            target.changed_by,
            target.evidence,
        )
        if not await asyncio.to_thread(self.versions.add, version):
            # Another replica wrote this version first: take its word and decide next time.
            self._current = await asyncio.to_thread(self.versions.newest)
            log.warning("degradation.version_taken version=%d", number)
            return None
        self._current = version
        log.info(
            "degradation.version version=%d level=%s previous=%s sample_ratio=%g until=%s "
            "changed_by=%s reason=%r",
            number,
            target.level,
            previous,
            target.sample_ratio,
            target.until.isoformat() if target.until else None,
            target.changed_by,
            target.reason,
        )
        await self._publish(version)
        if previous != target.level:
            await self._announcer.announce(version, previous)
        return version

    async def _publish(self, version: DegradationVersion) -> None:
        try:
            await self._bus.publish(DEGRADATION, msgspec.msgpack.encode(version.policy))
        except Exception:
            # Stored already: the next evaluation publishes it again.
            log.exception("degradation.publish_failed version=%d", version.policy.version)
            return
        self._published = version.policy.version
        self._metrics.show(version.policy)


def build_degradation(
    settings: DegradationSettings,
    prometheus: PrometheusSettings,
    *,
    bus: Bus,
    database: Database,
    sink: AlertSink,
    registry: CollectorRegistry,
    persist: PersistFigures | None,
    clock: Clock,
    liveness: LivenessRegistry,
) -> DegradationService:
    """The service with a source for each configured trigger; `registry` takes its gauges,
    `persist` is where this process records receipt write times (None: not here), `liveness`
    watches the consumer of the ingest-rate source."""
    sources = build_sources(settings.triggers, bus, persist, prometheus, clock, liveness)
    return DegradationService(
        settings,
        bus=bus,
        database=database,
        sources=sources,
        sink=sink,
        registry=registry,
        clock=clock,
    )
