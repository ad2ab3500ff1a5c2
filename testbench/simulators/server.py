"""Runs a simulator as a real HTTP server (uvicorn on 127.0.0.1) for tests and `make run`."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from smsplatform.clock import Clock, system_clock
from testbench.simulators.app import create_simulator_app
from testbench.simulators.config import SimulatorConfig
from testbench.simulators.control import apply_plan
from testbench.simulators.engine import SimulatorEngine
from testbench.simulators.plan import FaultPlan
from testbench.simulators.pusher import ReceiptPusher


@dataclass
class RunningSimulator:
    """A simulator serving on `base_url`, with in-process handles on its engine."""

    config: SimulatorConfig
    app: FastAPI
    base_url: str
    port: int

    @property
    def engine(self) -> SimulatorEngine:
        engine: SimulatorEngine = self.app.state.engine
        return engine

    def set_plan(self, plan: FaultPlan | Mapping[str, Any]) -> FaultPlan:
        """Apply a plan (a FaultPlan or its mapping form); raises ConfigError/PlanRejected."""
        return apply_plan(self.engine, plan if isinstance(plan, FaultPlan) else dict(plan))

    def state(self) -> dict[str, Any]:
        return self.engine.state()

    async def flush(self) -> int:
        """Push every due receipt now; returns how many reports the receivers took."""
        pusher: ReceiptPusher = self.app.state.pusher
        return await pusher.deliver_due(force=True)


def _refusing_protocol(engine: SimulatorEngine) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol (h11 costs about twice its CPU per request), dropping
    connections while a connect_refused outage lasts.

    The listening socket stays open, so a client sees its connection reset (a transport error,
    never an HTTP status) rather than a true ECONNREFUSED: the closest a live server gets.
    """

    class RefusingHttpToolsProtocol(HttpToolsProtocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if engine.outage() == "connect_refused":
                transport.abort()

        def data_received(self, data: bytes) -> None:
            if engine.outage() == "connect_refused":
                self.transport.abort()
                return
            super().data_received(data)

    return RefusingHttpToolsProtocol


@asynccontextmanager
async def running_simulator(
    config: SimulatorConfig,
    clock: Clock = system_clock,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    graceful_shutdown_s: float = 1.0,
) -> AsyncIterator[RunningSimulator]:
    """Serve a simulator until the block exits; port 0 picks a free port (see `base_url`)."""
    app = create_simulator_app(config, clock)
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP, and
    # without it every response body waits out a 40 ms delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            http=_refusing_protocol(app.state.engine),
            lifespan="on",
            # Nothing proxies a simulator: skip uvicorn's per-request X-Forwarded-* middleware.
            proxy_headers=False,
            log_config=None,
            access_log=False,
            # Requests hung by a timeout plan must not hold shutdown for their full hang. Typed
            # int, but uvicorn only hands it to asyncio.wait_for, which takes any float.
            timeout_graceful_shutdown=graceful_shutdown_s,  # type: ignore[arg-type]
        )
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()  # re-raises why uvicorn could not start
                raise RuntimeError("simulator server stopped during start-up")
            await asyncio.sleep(0.005)
        yield RunningSimulator(config, app, f"http://{host}:{bound_port}", bound_port)
    finally:
        server.should_exit = True
        await task
        sock.close()
