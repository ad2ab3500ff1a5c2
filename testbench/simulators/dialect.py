"""The HTTP face every dialect gives the shared engine: its API router, push format and 503."""

from __future__ import annotations

from typing import Protocol

from starlette.responses import Response
from starlette.routing import Route

from testbench.simulators.config import SimulatorConfig
from testbench.simulators.engine import SimulatorEngine
from testbench.simulators.profile import DialectProfile
from testbench.simulators.pusher import PushFormat


class SimDialect(Protocol):
    """One supplier dialect's simulator: a profile for the engine plus its HTTP API."""

    @property
    def profile(self) -> DialectProfile: ...

    def default_senders(self, config: SimulatorConfig) -> tuple[str, ...]:
        """Senders the account owns when the plan names none (Twilio numbers)."""
        ...

    def routes(self, engine: SimulatorEngine, config: SimulatorConfig) -> list[Route]:
        """The supplier's API: submits, status pulls and balance, as the real service answers.

        Plain Starlette routes: FastAPI's per-request dependency solving was a fifth of a
        simulated submit's CPU, and these handlers read the raw request anyway."""
        ...

    def push_format(self, engine: SimulatorEngine, config: SimulatorConfig) -> PushFormat: ...

    def unavailable(self) -> Response:
        """The supplier's answer while it is down (HTTP 503)."""
        ...
