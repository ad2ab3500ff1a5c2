"""Cut-over in the running control plane: events in, decisions per batch, versions out.

It consumes `sms.receipts`, `sms.submitted` and `sms.supplier_logs` on its own durables, feeds
the health model, and decides after every batch (so a fault is acted on as soon as its evidence
arrives) and every `tick_s` (cool-downs, canary windows, overdue receipts). Decisions become one
new routing version per round (stored, published on `cp.routing`) and notifications through the
alerting sink. It is also the `cutover` rule action's handler and runs operators' commands.

Entry points for tests and benches: `observe_receipts` / `observe_submits` / `observe_logs`
(then `decide`) drive it without a bus; `health` and `policy` are the pure parts.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any, cast, get_args

from controlplane.actions.announcer import ActionAnnouncer
from controlplane.actions.cutover import CutoverPolicy, RuleRequest
from controlplane.actions.cutover_settings import CutoverSettings
from controlplane.actions.decisions import Cause, RouteDecision
from controlplane.actions.health import HealthModel
from controlplane.actions.route_commands import RouteCommand, apply_command
from controlplane.actions.route_edits import HomeWeights, replace_routes
from controlplane.actions.routing_keeper import RoutingKeeper
from controlplane.actions.routing_store import RoutingStore
from controlplane.engine.rules.model import RuleAction
from controlplane.engine.rules.templates import RuleTemplate, TemplateContext
from controlplane.engine.runtime.sink import AlertNotice, AlertSink
from controlplane.storage import Database
from smsplatform.bus import RECEIPTS, SUBMITTED, SUPPLIER_LOGS, Bus
from smsplatform.bus.consume import Batch, Consumer
from smsplatform.bus.liveness import LivenessRegistry
from smsplatform.clock import Clock
from smsplatform.contracts import (
    MessageClass,
    Receipt,
    RoutingTable,
    SubmitResult,
    SupplierLog,
    decode_batch,
)

log = logging.getLogger(__name__)

FETCH_MESSAGES = 64
FETCH_TIMEOUT_S = 0.2
_CLASSES = frozenset(get_args(MessageClass))
# observe_receipts, observe_submits or observe_logs.
Observe = Callable[[Sequence[Any]], Awaitable[None]]


class CutoverService:
    """Owns the health model, the cut-over policy and the routing table of this control plane."""

    def __init__(
        self,
        settings: CutoverSettings,
        database: Database,
        bus: Bus,
        sink: AlertSink,
        clock: Clock,
        liveness: LivenessRegistry,
    ) -> None:
        self.settings = settings
        self._bus = bus
        self._clock = clock
        self.home = HomeWeights.of(settings.routes)
        self.health = HealthModel(settings.health)
        self.policy = CutoverPolicy(settings, self.health, self.home)
        self.store = RoutingStore(database)
        self.keeper = RoutingKeeper(self.store, bus, settings.routes, clock)
        self.announcer = ActionAnnouncer(sink, settings.notice_hold_s)
        self._round_lock = asyncio.Lock()
        self._liveness = liveness
        self._consumers: list[Consumer[Sequence[Any]]] = []
        self._tasks: list[asyncio.Task[None]] = []
        # What /metrics reports (controlplane/actions/cutover_metrics.py).
        self.rounds = 0
        self.events_seen = 0  # counted once the round they fed has been decided
        self.changes_by_action: Counter[str] = Counter()
        self.fail_static_now = 0

    @property
    def table(self) -> RoutingTable | None:
        return self.keeper.table

    async def start(self, *, consume: bool = True) -> None:
        """Publish the table in force, then (unless `consume` is False) follow the bus."""
        table = await self.keeper.start()
        if table is None or not self.settings.enabled:
            return
        self.policy.adopt(table, self._clock.now())
        if not consume:
            return
        feeds: list[tuple[str, str, type[Any], Observe]] = [
            ("receipts", RECEIPTS, Receipt, self.observe_receipts),
            ("submits", SUBMITTED, SubmitResult, self.observe_submits),
            ("logs", SUPPLIER_LOGS, SupplierLog, self.observe_logs),
        ]
        for name, subject, event_type, observe in feeds:
            durable = f"{self.settings.durable_prefix}{name}"
            consumer = Consumer(
                durable,
                await self._bus.subscribe(subject, durable),
                partial(decode_batch, event_type),
                partial(self._observe_batch, name, observe),
                liveness=self._liveness,
                fetch_max=FETCH_MESSAGES,
                fetch_timeout_s=FETCH_TIMEOUT_S,
            )
            consumer.start()
            self._consumers.append(consumer)
        self._tasks.append(asyncio.create_task(self._tick(), name="cutover-tick"))
        log.info("event=cutover_started version=%d routes=%d", table.version, len(table.routes))

    async def stop(self) -> None:
        consumers, self._consumers = self._consumers, []
        for consumer in consumers:
            await consumer.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    # --- events --------------------------------------------------------------------------------
    async def observe_receipts(self, receipts: Sequence[Receipt]) -> None:
        self.health.observe_receipts(receipts, self._clock.now())
        await self.decide()
        self.events_seen += len(receipts)

    async def observe_submits(self, results: Sequence[SubmitResult]) -> None:
        self.health.observe_submits(results, self._clock.now())
        await self.decide()
        self.events_seen += len(results)

    async def observe_logs(self, logs: Sequence[SupplierLog]) -> None:
        self.health.observe_logs(logs, self._clock.now())
        await self.decide()
        self.events_seen += len(logs)

    async def _observe_batch(
        self, source: str, observe: Observe, batch: Batch[Sequence[Any]]
    ) -> None:
        try:
            await observe([event for events in batch.values for event in events])
        except Exception:
            # The health model holds these events already: a redelivery would count them twice.
            # A failed round (say, the database refused the new version) is retried by the tick.
            log.exception("event=cutover_batch_failed source=%s", source)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.settings.tick_s)
            try:
                await self.decide()
            except Exception:
                log.exception("event=cutover_tick_failed")

    # --- the round -----------------------------------------------------------------------------
    async def decide(self) -> RoutingTable | None:
        """One decision round now; the new version if routes changed, else None."""
        if not self.settings.enabled:
            return None
        async with self._round_lock:
            table = self.keeper.table  # read under the lock: an operator may just have changed it
            if table is None:
                return None
            now = self._clock.now()
            outcome = self.policy.decide(table, now)
            self.rounds += 1
            committed = None
            if outcome.decisions:
                try:
                    committed = await self._commit(table, outcome.decisions)
                except Exception:
                    self.policy.adopt(table, now)  # nothing changed: records follow the table
                    raise
            # When another writer took the version (committed is None), no route changed and
            # the next round decides anew from its table; this round's fail-statics are still
            # announced. They rest on health and the safety rules, not on the lost change (a pin
            # or a share limit on another route is untouched by it), and a critical notice must
            # not wait for a round without a conflict.
            version = committed.version if committed is not None else table.version
            decisions = outcome.decisions if committed is not None else []
            self.changes_by_action.update(d.action for d in decisions)
            self.fail_static_now = len(outcome.fail_static)
            await self.announcer.announce(decisions, version, outcome.fail_static, now)
            return committed

    async def _commit(
        self, table: RoutingTable, decisions: Sequence[RouteDecision]
    ) -> RoutingTable | None:
        now = self._clock.now()
        routes = replace_routes(table, [d.route for d in decisions])
        evidence = {
            "decisions": [
                {
                    "action": d.action,
                    "supplier": d.supplier,
                    "carrier": d.carrier,
                    "message_class": d.message_class,
                    "summary": d.summary,
                    "evidence": dict(d.evidence),
                }
                for d in decisions
            ]
        }
        changed_by = ",".join(sorted({d.changed_by for d in decisions}))
        reason = "; ".join(d.summary for d in decisions)
        committed = await self.keeper.commit(routes, changed_by, reason, evidence)
        if committed is None:
            self.policy.adopt(self.keeper.table or table, now)
            return None
        self.policy.changed([d.route for d in decisions], now)
        return committed

    # --- rule actions (ActionHandler) ----------------------------------------------------------
    async def handle(self, notice: AlertNotice, action: RuleAction) -> None:
        """A rule's `cutover` action: eject while its alert fires; failback once it resolves."""
        alert = notice.transition.alert
        if notice.is_resolved:
            if self.policy.release(alert.fingerprint):
                log.info("event=cutover_rule_released rule=%s", notice.rule_key)
            return
        context = TemplateContext(labels=alert.labels, value=alert.value)
        params = {
            name: value.render(context) if isinstance(value, RuleTemplate) else str(value)
            for name, value in action.params.items()
        }
        supplier = params.get("supplier", "")
        message_class = params.get("message_class") or None
        if not supplier or (message_class is not None and message_class not in _CLASSES):
            log.error(
                "event=cutover_rule_unusable rule=%s supplier=%r message_class=%r",
                notice.rule_key,
                supplier,
                message_class,
            )
            return
        summary = notice.annotations.get("summary") or f"value {alert.value}"
        cause = Cause(
            f"rule {notice.rule_key} firing: {summary}",
            f"rule:{notice.rule_key}",
            {
                "rule": notice.rule_key,
                "fingerprint": alert.fingerprint,
                "labels": dict(alert.labels),
                "value": alert.value,
            },
        )
        carrier = params.get("carrier") or None
        request = RuleRequest(supplier, carrier, cast(MessageClass | None, message_class), cause)
        table = self.keeper.table
        if table is not None and not any(
            entry.supplier == supplier for route in table.routes for entry in route.suppliers
        ):
            log.warning(
                "event=cutover_rule_unknown_supplier rule=%s supplier=%s: on no route",
                notice.rule_key,
                supplier,
            )
        self.policy.request(alert.fingerprint, request)
        await self.decide()

    # --- operators -----------------------------------------------------------------------------
    async def run_command(self, command: RouteCommand, operator: str) -> RoutingTable:
        """Apply an operator's command as a new version (RouteCommandError when it cannot)."""
        async with self._round_lock:
            for _ in range(3):  # a conflicting writer makes us re-read and re-apply
                table = self.keeper.table
                if table is None:
                    raise RuntimeError("no routing table is owned here (no route configured)")
                changed = apply_command(table, command, self.home)
                reason = command.reason or command.describe()
                evidence = {
                    "command": command.verb,
                    "operator": operator,
                    "text": command.describe(),
                }
                committed = await self.keeper.commit(
                    replace_routes(table, changed), f"operator:{operator}", reason, evidence
                )
                now = self._clock.now()
                if committed is not None:
                    self.policy.adopt(committed, now)
                    self.policy.changed(changed, now)
                    log.warning(
                        "event=route_command operator=%s command=%r version=%d",
                        operator,
                        command.describe(),
                        committed.version,
                    )
                    return committed
            raise RuntimeError("the routing table kept changing under the command; try again")
