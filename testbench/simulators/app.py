"""Builds a simulator's FastAPI app: the dialect's API, control endpoints and receipt pusher."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from smsplatform.clock import Clock, system_clock
from smsplatform.http.errors import install_error_handlers
from testbench.simulators.aliyun import AliyunSim
from testbench.simulators.cmpp import CmppSim
from testbench.simulators.config import SimulatorConfig
from testbench.simulators.control import control_router
from testbench.simulators.dialect import SimDialect
from testbench.simulators.engine import SimulatorEngine
from testbench.simulators.metrics import simulator_registry
from testbench.simulators.pusher import ReceiptPusher
from testbench.simulators.tencent import TencentSim
from testbench.simulators.twilio import TwilioSim
from testbench.simulators.web import OutageMiddleware

DIALECTS: dict[str, SimDialect] = {
    "aliyun": AliyunSim(),
    "tencent": TencentSim(),
    "twilio": TwilioSim(),
    "cmpp": CmppSim(),
}


def create_simulator_app(config: SimulatorConfig, clock: Clock = system_clock) -> FastAPI:
    """A simulator as an ASGI app; its lifespan runs the background receipt pusher.

    `app.state.engine` and `app.state.pusher` give in-process callers the same handles the
    control endpoints use.
    """
    dialect = DIALECTS[config.dialect]
    engine = SimulatorEngine(
        dialect.profile,
        clock,
        seed=config.seed,
        plan=config.plan,
        callback_url=config.callback_url,
        default_senders=dialect.default_senders(config),
        max_records=config.max_records,
    )
    pusher = ReceiptPusher(engine, dialect.push_format(engine, config))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        task = (
            asyncio.create_task(pusher.run(config.push_interval_s))
            if config.background_push
            else None
        )
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await pusher.aclose()

    app = FastAPI(title=f"{config.dialect} supplier simulator", lifespan=lifespan)
    app.state.engine = engine
    app.state.pusher = pusher
    install_error_handlers(app)
    # The supplier API first: its routes are the hot ones, matched before the control routes.
    app.router.routes.extend(dialect.routes(engine, config))
    app.include_router(control_router(engine, pusher, simulator_registry(engine)))
    app.add_middleware(OutageMiddleware, engine=engine, unavailable=dialect.unavailable)
    return app
