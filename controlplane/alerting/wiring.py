"""Builds the alerting stage from settings: config, channels, silences, escalation, ack links."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx

from controlplane.alerting.channels import ChannelServices, build_receivers
from controlplane.alerting.config import AlertingConfig, load_alerting_config
from controlplane.alerting.escalation import (
    AckLinks,
    Acknowledgements,
    EscalationStore,
    EscalationTracker,
)
from controlplane.alerting.oncall import OnCall, is_oncall_target
from controlplane.alerting.pipeline import AlertingStage, Escalator, SilenceRepository
from controlplane.alerting.pipeline.delivery import Sleep
from controlplane.alerting.sms_direct_setup import load_direct_sms
from controlplane.alerting.supplier_feed import SupplierHealthFeed
from controlplane.alerting.supplier_health import SupplierHealth
from controlplane.bus import Bus
from controlplane.clock import Clock
from controlplane.settings import AlertingSettings
from controlplane.storage import AlertRepository, Database
from notifiers.sms import ALERT_TEMPLATE
from notifiers.sms_direct import DirectSms
from notifiers.transport import new_client

log = logging.getLogger(__name__)

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
    ack_links: AckLinks
    client: httpx.AsyncClient
    clock: Clock
    supplier_health: SupplierHealth
    supplier_feed: SupplierHealthFeed | None = None
    sms_direct: DirectSms | None = None
    _ticker: asyncio.Task[None] | None = field(default=None, repr=False)
    _flushes: set[asyncio.Task[None]] = field(default_factory=set, repr=False)

    async def start(self, *, tick: bool = True) -> None:
        """Restore firing alerts from storage, then tick every second (unless a test drives it)."""
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


def _recipients(oncall: OnCall, clock: Clock) -> Callable[[Sequence[str]], tuple[str, ...]]:
    """Phone numbers for a channel's targets now: `oncall:` targets become who is on call."""

    def resolve(targets: Sequence[str]) -> tuple[str, ...]:
        numbers: dict[str, None] = {}
        for target in targets:
            if not is_oncall_target(target):
                numbers[target] = None
                continue
            member = oncall.resolve(target, clock.now())
            if member is None:
                log.warning("oncall.nobody target=%s", target)
            else:
                numbers[member.phone] = None
        return tuple(numbers)

    return resolve


def build_alerting(
    settings: AlertingSettings,
    database: Database,
    clock: Clock,
    *,
    sleep: Sleep = asyncio.sleep,
    replica: str = "local",
    bus: Bus | None = None,
) -> Alerting | None:
    """The alerting stage for `settings.config`; None when no config is set.

    The file is loaded strictly: a ConfigError (each problem as file:line: field) stops start-up.
    With a `bus`, alert SMS follow the routing tables and submit outcomes published on it.
    """
    if settings.config is None:
        return None
    path = Path(settings.config)
    config = load_alerting_config(path)
    for warning in config.warnings:
        log.warning("alerting.config_warning %s", warning)
    secret = (
        settings.ack_secret.get_secret_value().encode()
        if settings.ack_secret is not None
        else secrets.token_bytes(32)  # links then stop working at restart: set ack_secret
    )
    links = AckLinks(secret, settings.public_url, clock, timedelta(seconds=settings.ack_link_ttl_s))
    sms_token = settings.sms_token.get_secret_value()
    health = SupplierHealth(clock)
    direct = (
        load_direct_sms(Path(settings.sms_direct_config), sms_token, ALERT_TEMPLATE, clock)
        if settings.sms_direct_config is not None
        else None
    )
    services = ChannelServices(
        wecom_api_url=settings.wecom_api_url,
        voice_api_url=settings.voice_api_url,
        voice_access_key_id=settings.voice_access_key_id,
        voice_access_key_secret=settings.voice_access_key_secret.get_secret_value(),
        sms_api_url=settings.sms_api_url,
        sms_token=sms_token,
        console_url=settings.public_url,
        sms_ranking=health,
        sms_direct=direct,
    )
    client = new_client()
    store = EscalationStore(database)
    acknowledgements = Acknowledgements(store, AlertRepository(database), clock)
    escalator = Escalator(EscalationTracker(store, config.escalations, clock), acknowledgements)
    stage = AlertingStage(
        database=database,
        route=config.route,
        receivers=build_receivers(config.receivers, clock, services, client),
        clock=clock,
        inhibit_rules=config.inhibit_rules,
        is_muted=config.is_muted,
        escalator=escalator,
        ack_url=links.url,
        recipients=_recipients(config.oncall, clock),
        sleep=sleep,
        replica=replica,
        console_url=settings.public_url,
    )
    feed = (
        SupplierHealthFeed(bus, health, durable=f"alerting-health-{replica}")
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
    )
