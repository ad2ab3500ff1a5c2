"""Builds the configured Bus backend: the embedded memory bus or NATS JetStream."""

from __future__ import annotations

from smsplatform.bus.base import Bus
from smsplatform.bus.jetstream import JetStreamBus
from smsplatform.bus.memory import MemoryBus
from smsplatform.clock import Clock

BACKENDS = ("memory", "jetstream")


def make_bus(backend: str, *, url: str, stream: str, namespace: str, clock: Clock) -> Bus:
    """The bus for `backend`; `url`, `stream` and `namespace` matter only to JetStream.

    The bus is not started: the caller owns its lifetime (`start()` ... `close()`).
    """
    if backend == "memory":
        return MemoryBus(clock=clock)
    if backend == "jetstream":
        return JetStreamBus(url, stream=stream, namespace=namespace)
    raise ValueError(f"unknown bus backend {backend!r}: expected one of {', '.join(BACKENDS)}")
