"""The readings degradation triggers compare with their thresholds, from our own figures or PromQL.

- ingest rate: receipts per second on sms.receipts, counted from a durable of our own, each
  receipt by its weight: a sampled receipt stands for 1/ratio, so entering `sample` does not
  make the rate look lower than the load it stands for (which would flap straight back out).
- bus lag: messages a consumer (by default the send tier's receipt storage) has not acked.
- persist latency: mean seconds per stored receipt batch since the last reading, from the
  persistence that runs in this process: the control plane's own persister, or (as `make run`
  has it, the control plane's turned off) the send tier's. With neither here, the trigger must
  say where to read it with `promql`.
A trigger with a `promql` query reads that instead (the largest value of its series). A source
that cannot be read gives None, and its trigger holds the current level.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Protocol

import msgspec
from prometheus_client import CollectorRegistry

from controlplane.actions.degradation_levels import configured_triggers
from controlplane.engine.promql import PrometheusClient, PromQLError
from controlplane.settings import BusLagTrigger, DegradationTriggers, PrometheusSettings
from smsplatform.bus import RECEIPTS, Bus
from smsplatform.bus.consume import Batch, Consumer
from smsplatform.bus.liveness import LivenessRegistry
from smsplatform.clock import Clock
from smsplatform.config.yamlsource import ConfigError, ConfigProblem

log = logging.getLogger(__name__)

FETCH_MESSAGES: Final = 256
FETCH_TIMEOUT_S: Final = 0.25
RATE_DURABLE: Final = "smsctl-degradation-rate"
# The receipt batch-write histograms of the two persisters (controlplane/metrics.py,
# sendtier/persist/metrics.py), both labelled by event kind.
CONTROL_PLANE_PERSIST: Final = "smsctl_persist_batch_seconds"
SENDTIER_PERSIST: Final = "sendtier_persist_batch_seconds"


@dataclass(frozen=True)
class PersistFigures:
    """Where this process records how long a batch of receipts takes to store."""

    registry: CollectorRegistry
    histogram: str  # CONTROL_PLANE_PERSIST or SENDTIER_PERSIST


def persist_figures(
    own_persister: bool, own: CollectorRegistry, sendtier: CollectorRegistry | None
) -> PersistFigures | None:
    """Where receipt write times are recorded in this process: by the control plane's own
    persister when it runs, else by the send tier's persistence when that runs here."""
    if own_persister:
        return PersistFigures(own, CONTROL_PLANE_PERSIST)
    return PersistFigures(sendtier, SENDTIER_PERSIST) if sendtier is not None else None


class ReadingSource(Protocol):
    """One figure a trigger watches."""

    async def read(self, now: datetime) -> float | None: ...


class _Weight(msgspec.Struct):
    """The fields of a Receipt the rate needs; decoding skips the others."""

    weight: float = 1.0
    received_at: datetime | None = None


_weights = msgspec.msgpack.Decoder(list[_Weight])


class ReceiptRate:
    """Weighted receipts per second on sms.receipts between two readings."""

    def __init__(
        self, bus: Bus, clock: Clock, liveness: LivenessRegistry, durable: str = RATE_DURABLE
    ) -> None:
        self._bus = bus
        self._clock = clock
        self._liveness = liveness
        self._durable = durable
        self._counted = 0.0
        # Receipts received before the source started (a durable's backlog) are not load now.
        self._since: datetime | None = None
        self._last_read: float | None = None
        self._consumer: Consumer[list[_Weight]] | None = None

    @property
    def counted(self) -> float:
        """Weighted receipts counted since the last reading."""
        return self._counted

    def count(self, payload: bytes) -> None:
        """Add one sms.receipts payload (a msgpack batch of receipts)."""
        self._count_weights(_weights.decode(payload))

    def _count_weights(self, weights: list[_Weight]) -> None:
        since = self._since
        self._counted += sum(
            item.weight
            for item in weights
            if since is None or item.received_at is None or item.received_at >= since
        )

    async def read(self, now: datetime) -> float | None:
        elapsed_from = self._last_read
        self._last_read = self._clock.monotonic()
        counted, self._counted = self._counted, 0.0
        if elapsed_from is None or self._last_read <= elapsed_from:
            return None  # the first reading opens the interval
        return counted / (self._last_read - elapsed_from)

    async def start(self) -> None:
        subscription = await self._bus.subscribe(RECEIPTS, self._durable)
        self._since = self._clock.now()
        self._last_read = self._clock.monotonic()
        self._consumer = Consumer(
            self._durable,
            subscription,
            _weights.decode,
            self._count_batch,
            liveness=self._liveness,
            fetch_max=FETCH_MESSAGES,
            fetch_timeout_s=FETCH_TIMEOUT_S,
        )
        self._consumer.start()

    async def stop(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            await consumer.stop()

    async def _count_batch(self, batch: Batch[list[_Weight]]) -> None:
        for weights in batch.values:
            self._count_weights(weights)


class BusLag:
    """Messages on `subject` that `durable` has not acknowledged yet."""

    def __init__(self, bus: Bus, subject: str, durable: str) -> None:
        self._bus = bus
        self._subject = subject
        self._durable = durable

    async def read(self, now: datetime) -> float | None:
        try:
            return float(await self._bus.pending(self._subject, self._durable))
        except LookupError:
            log.warning(
                "degradation.bus_lag no durable subject=%s durable=%s", self._subject, self._durable
            )
            return None


class PersistLatency:
    """Mean seconds per receipt batch written by the persister in this process since the last
    reading."""

    def __init__(self, figures: PersistFigures) -> None:
        self._figures = figures
        self._last = (0.0, 0.0)

    async def read(self, now: datetime) -> float | None:
        labels = {"kind": "receipts"}
        registry, histogram = self._figures.registry, self._figures.histogram
        total = registry.get_sample_value(f"{histogram}_sum", labels) or 0.0
        count = registry.get_sample_value(f"{histogram}_count", labels) or 0.0
        last_total, last_count = self._last
        self._last = (total, count)
        if count <= last_count:
            return 0.0  # nothing written since: no write is slow
        return (total - last_total) / (count - last_count)


class PromQLReading:
    """The largest value an instant query returns; None when it fails or returns nothing."""

    def __init__(self, client: PrometheusClient, query: str) -> None:
        self._client = client
        self._query = query

    def close(self) -> None:
        self._client.close()

    async def read(self, now: datetime) -> float | None:
        try:
            samples = await self._client.query_instant(self._query, now)
        except PromQLError as exc:
            log.warning("degradation.promql failed query=%r error=%s", self._query, exc)
            return None
        return max((sample.value for sample in samples), default=None)


def build_sources(
    triggers: DegradationTriggers,
    bus: Bus,
    persist: PersistFigures | None,
    prometheus: PrometheusSettings,
    clock: Clock,
    liveness: LivenessRegistry,
) -> dict[str, ReadingSource]:
    """A source for every configured trigger: its PromQL query, or our own figure.

    `persist`: the persistence running in this process, if any. A persist-latency trigger
    without one and without `promql` could only ever read 0: a ConfigError naming the field.
    """
    persist_trigger = triggers.persist_latency
    if persist_trigger is not None and not persist_trigger.promql and persist is None:
        raise ConfigError(
            [
                ConfigProblem(
                    "<settings>",
                    None,
                    "degradation.triggers.persist_latency.promql",
                    "no persistence runs in this process (ingest.persist_enabled is false and "
                    "the send tier runs elsewhere): give the PromQL query of its latency, e.g. "
                    f"rate({SENDTIER_PERSIST}_sum[1m]) / rate({SENDTIER_PERSIST}_count[1m])",
                )
            ]
        )
    sources: dict[str, ReadingSource] = {}
    for name, trigger in configured_triggers(triggers).items():
        if trigger.promql:
            client = PrometheusClient.from_settings(prometheus)
            sources[name] = PromQLReading(client, trigger.promql)
        elif isinstance(trigger, BusLagTrigger):
            sources[name] = BusLag(bus, trigger.subject, trigger.durable)
        elif name == "ingest_rate":
            sources[name] = ReceiptRate(bus, clock, liveness)
        else:
            assert persist is not None  # checked above
            sources[name] = PersistLatency(persist)
    return sources


async def read_all(sources: Mapping[str, ReadingSource], now: datetime) -> dict[str, float | None]:
    """Every source's reading, read concurrently; a source that raises reads as None."""
    names = list(sources)
    values = await asyncio.gather(
        *(sources[name].read(now) for name in names), return_exceptions=True
    )
    readings: dict[str, float | None] = {}
    for name, value in zip(names, values, strict=True):
        if isinstance(value, BaseException):
            log.error("degradation.reading failed trigger=%s error=%r", name, value)
            readings[name] = None
        else:
            readings[name] = value
    return readings
