"""The message bus: one protocol, an embedded memory backend and a NATS JetStream backend."""

from smsplatform.bus.base import (
    DEDUP_WINDOW_S,
    DEGRADATION,
    PARTIALS,
    PROBE_RESULTS,
    RECEIPTS,
    ROUTING,
    SUBMIT,
    SUBMITTED,
    SUPPLIER_LOGS,
    Bus,
    Delivery,
    PublishFailed,
    Subscription,
)
from smsplatform.bus.factory import make_bus
from smsplatform.bus.jetstream import JetStreamBus
from smsplatform.bus.memory import MemoryBus

__all__ = [
    "DEDUP_WINDOW_S",
    "DEGRADATION",
    "PARTIALS",
    "PROBE_RESULTS",
    "RECEIPTS",
    "ROUTING",
    "SUBMIT",
    "SUBMITTED",
    "SUPPLIER_LOGS",
    "Bus",
    "Delivery",
    "JetStreamBus",
    "MemoryBus",
    "PublishFailed",
    "Subscription",
    "make_bus",
]
