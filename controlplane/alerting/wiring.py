"""Builds the alerting stage from settings: config, channels, silences, escalation, ack links.

The secrets acknowledgement rests on are required, never made up per process: `ack_secret` once
alerting.yaml has escalation chains (links signed by a random secret die with the process, and
replicas would not agree), `voice_callback_token` once a receiver places voice calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path

import httpx

from controlplane.actions.routing_store import RoutingStore
from controlplane.alerting.channels import build_receivers, channel_services, oncall_recipients
from controlplane.alerting.config import AlertingConfig, load_alerting_config
from controlplane.alerting.escalation import (
    AckLinks,
    Acknowledgements,
    EscalationStore,
    EscalationTracker,
    RedialBook,
    RedialPolicy,
)
from controlplane.alerting.pipeline import AlertingStage, Escalator, SilenceRepository
from controlplane.alerting.pipeline.delivery import Sleep
from controlplane.alerting.pipeline.page_retry import PageRetry
from controlplane.alerting.supplier_feed import SupplierHealthFeed
from controlplane.alerting.supplier_health import SupplierHealth
from controlplane.settings import AlertingSettings
from controlplane.storage import AlertRepository, Database
from notifiers.sms_direct import DirectSms
from notifiers.transport import new_client
from smsplatform.bus import Bus
from smsplatform.bus.liveness import LivenessRegistry
from smsplatform.clock import Clock
from smsplatform.config.yamlsource import ConfigError, ConfigProblem

log = logging.getLogger(__name__)

# Where a problem with the service settings (not alerting.yaml) is said to be.
SETTINGS_SOURCE = "<settings>"
TICK_S = 1.0
# The shortest pause between ticks: a group due right away still lets requests be served.
MIN_PAUSE_S = 0.005


@dataclass
class Alerting:
    """The running alerting stage and what its routers serve (silences, acks, links)."""

    config: AlertingConfig
    stage: AlertingStage
    silences: SilenceRepository
    acknowledgements: Acknowledgements
    ack_links: AckLinks | None  # None: no escalation chain, so no episode a link could ack
    client: httpx.AsyncClient
    clock: Clock
    supplier_health: SupplierHealth
    supplier_feed: SupplierHealthFeed | None = None
    sms_direct: DirectSms | None = None
    # Where the routing table in force is stored: read at start, since the feed's durable
    # consumer resumes after its last ack and would not hand it over again after a restart.
    routing_versions: RoutingStore | None = None
    # What the voice service's receipt pushes must carry (None: no receiver places calls).
    voice_callback_token: bytes | None = None
    _ticker: asyncio.Task[None] | None = field(default=None, repr=False)
    _flushes: set[asyncio.Task[None]] = field(default_factory=set, repr=False)

    async def start(self, *, tick: bool = True) -> None:
        """Restore firing alerts from storage, then tick every second (unless a test drives it)."""
        if self.routing_versions is not None:
            stored = await asyncio.to_thread(self.routing_versions.latest)
            if stored is not None and self.supplier_health.apply(stored.table):
                log.info("alerting.routing_restored version=%d", stored.table.version)
        if self.supplier_feed is not None:
            await self.supplier_feed.start()
        restored = await asyncio.to_thread(self.stage.restore)
        log.info("alerting.started restored=%d receivers=%d", restored, len(self.config.receivers))
        if tick:
            self._ticker = asyncio.create_task(self._tick_forever(), name="alerting-tick")

    async def _tick_forever(self) -> None:
        # Each tick runs as its own task: a flush still sending (hundreds of groups, or a
        # channel backing off between retries) does not delay the next group that comes due.
        while True:
            tick = asyncio.create_task(self._tick_once(), name="alerting-flush")
            self._flushes.add(tick)
            tick.add_done_callback(self._flushes.discard)
            await asyncio.sleep(0)  # the tick takes its due groups before we look for the next
            # Wake when the next group is due (as Alertmanager's per-group timers do), so a
            # group_wait of 1 s is not stretched to the next whole-second tick.
            due_in = self.stage.seconds_until_due()
            pause = TICK_S if due_in is None else min(TICK_S, due_in)
            await asyncio.sleep(max(MIN_PAUSE_S, pause))

    async def _tick_once(self) -> None:
        try:
            await self.stage.tick()
        except Exception:  # one bad tick must not stop alerting for good
            log.exception("alerting.tick_failed")

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        for flush in list(self._flushes):
            flush.cancel()
        await asyncio.gather(*self._flushes, return_exceptions=True)
        # History of sends that finished while a cancelled flush was still sending.
        written = await asyncio.to_thread(self.stage.write_deferred_history)
        log.info("alerting.stopped history_written=%d", written)
        if self.supplier_feed is not None:
            await self.supplier_feed.stop()
        if self.sms_direct is not None:
            await self.sms_direct.aclose()
        await self.client.aclose()


def build_alerting(
    settings: AlertingSettings,
    database: Database,
    clock: Clock,
    *,
    sleep: Sleep = asyncio.sleep,
    replica: str = "local",
    bus: Bus | None = None,
    liveness: LivenessRegistry,
) -> Alerting | None:
    """The alerting stage for `settings.config`; None when no config is set.

    The file is loaded strictly: a ConfigError (each problem as file:line: field) stops start-up.
    With a `bus`, alert SMS follow the routing tables and submit outcomes published on it, read
    by consumers that `liveness` watches.
    """
    if settings.config is None:
        return None
    path = Path(settings.config)
    config = load_alerting_config(path)
    for warning in config.warnings:
        log.warning("alerting.config_warning %s", warning)
    _check_secrets(settings, config)
    links = (
        AckLinks(
            settings.ack_secret.get_secret_value().encode(),
            settings.public_url,
            clock,
            timedelta(seconds=settings.ack_link_ttl_s),
        )
        if settings.ack_secret is not None and config.escalations
        else None
    )
    health = SupplierHealth(clock)
    client = new_client()
    store = EscalationStore(database)
    redials = RedialBook(RedialPolicy(attempts=settings.voice_call_attempts))
    acknowledgements = Acknowledgements(store, AlertRepository(database), clock, redials)
    escalator = Escalator(EscalationTracker(store, config.escalations, clock), acknowledgements)
    services = replace(
        channel_services(settings, clock, ranking=health), bind_voice_call=escalator.bind_call
    )
    direct = services.sms_direct
    stage = AlertingStage(
        database=database,
        route=config.route,
        receivers=build_receivers(config.receivers, clock, services, client, config.templates),
        clock=clock,
        inhibit_rules=config.inhibit_rules,
        is_muted=config.is_muted,
        escalator=escalator,
        ack_url=links.url if links is not None else None,
        recipients=oncall_recipients(config.oncall, clock),
        sleep=sleep,
        replica=replica,
        console_url=f"{settings.public_url.rstrip('/')}/console",  # where messages link to
        resolve_timeout_s=config.resolve_timeout_s,
        page_retry=PageRetry(settings.page_retry_s, settings.page_retry_max_s),
    )
    feed = (
        SupplierHealthFeed(bus, health, durable=f"alerting-health-{replica}", liveness=liveness)
        if bus is not None
        else None
    )
    return Alerting(
        config,
        stage,
        SilenceRepository(database),
        acknowledgements,
        links,
        client,
        clock,
        health,
        feed,
        direct,
        RoutingStore(database),
        voice_callback_token=(
            settings.voice_callback_token.get_secret_value().encode()
            if settings.voice_callback_token is not None
            else None
        ),
    )


def _check_secrets(settings: AlertingSettings, config: AlertingConfig) -> None:
    """ConfigError naming each secret the config needs and the settings lack."""
    problems = []
    if config.escalations and settings.ack_secret is None:
        reason = "required: alerting.yaml has escalations, whose acknowledgement links it signs"
        problems.append(ConfigProblem(SETTINGS_SOURCE, None, "alerting.ack_secret", reason))
    places_calls = any(
        channel.channel == "voice"
        for receiver in config.receivers.values()
        for channel in receiver.channels
    )
    if places_calls and settings.voice_callback_token is None:
        reason = "required: a receiver places voice calls, whose receipt pushes must carry it"
        problems.append(
            ConfigProblem(SETTINGS_SOURCE, None, "alerting.voice_callback_token", reason)
        )
    if problems:
        raise ConfigError(problems)
