"""The message bus: one protocol, an embedded memory backend and a NATS JetStream backend."""

from controlplane.bus.base import (
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
    Subscription,
)
from controlplane.bus.factory import make_bus
from controlplane.bus.jetstream import JetStreamBus
from controlplane.bus.memory import MemoryBus

__all__ = [
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
    "Subscription",
    "make_bus",
]
