"""An escalating group and the acknowledgement routes (API, links, voice callback) over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI

from controlplane.alerting.config import Escalation, EscalationStep
from controlplane.alerting.escalation import (
    AckLinks,
    Acknowledgements,
    EscalationStore,
    EscalationTracker,
    voice_callback,
)
from controlplane.alerting.escalation import api as ack_api
from controlplane.storage import CONTROL_PLANE_HISTORY, AlertRepository, Database
from controlplane.web.console import ack_link
from smsplatform.clock import ManualClock
from smsplatform.http.errors import install_error_handlers
from smsplatform.http.serving import Served, ServerGroup
from smsplatform.http.tokens import TokenRegistry

FIRED = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
GROUP = '{}/{severity="critical"}:{alertname="SupplierDeliveryDrop"}'
FINGERPRINT = "a1b2c3d4e5f60718"
OPERATOR_TOKEN = "operator-token-0123456789"
INGEST_TOKEN = "ingest-token-0123456789ab"
CALLBACK_TOKEN = "voice-callback-token-0123456789"
CHAIN = Escalation(
    "sms-critical",
    (
        EscalationStep(0.0, ("dingtalk-ops",)),
        EscalationStep(600.0, ("voice-primary",)),
        EscalationStep(1200.0, ("voice-secondary",)),
    ),
)


@dataclass
class World:
    url: str
    clock: ManualClock
    tracker: EscalationTracker
    acks: Acknowledgements
    links: AckLinks
    alerts: AlertRepository
    episode_id: int  # the group's first episode, its first step sent

    def pending(self) -> list[str]:
        """The receivers still to page (an hour on, every step is due)."""
        self.clock.advance(3600)
        return [receiver for due in self.tracker.due() for receiver in due.step.receivers]

    def fire_again(self) -> int:
        """The group resolves, then fires afresh: its next episode, first step sent."""
        self.tracker.resolve(GROUP)
        self.clock.advance(60)
        episode_id = self.tracker.start(GROUP, CHAIN.name, [FINGERPRINT], self.clock.now())
        assert [due.index for due in self.tracker.due()] == [0]
        return episode_id


@asynccontextmanager
async def ack_world(sqlite_url: str) -> AsyncIterator[World]:
    database = Database(sqlite_url)
    database.upgrade(CONTROL_PLANE_HISTORY)
    clock = ManualClock(FIRED)
    store = EscalationStore(database)
    tracker = EscalationTracker(store, {CHAIN.name: CHAIN}, clock)
    episode_id = tracker.start(GROUP, CHAIN.name, [FINGERPRINT], FIRED)
    assert [due.index for due in tracker.due()] == [0]
    alerts = AlertRepository(database)
    acks = Acknowledgements(store, alerts, clock)
    app = FastAPI()
    install_error_handlers(app)
    for router in (ack_api.router, ack_link.router, voice_callback.router):
        app.include_router(router)
    app.state.tokens = TokenRegistry(
        [
            ("oncall-alice", OPERATOR_TOKEN, frozenset({"operator"})),
            ("probe", INGEST_TOKEN, frozenset({"ingest"})),
        ]
    )
    app.state.acknowledgements = acks
    app.state.voice_callback_token = CALLBACK_TOKEN.encode()
    servers = ServerGroup([Served("ack", app)])
    urls = await servers.start()
    links = AckLinks(b"link-secret-for-tests", urls["ack"], clock, ttl=timedelta(hours=1))
    app.state.ack_links = links
    try:
        yield World(urls["ack"], clock, tracker, acks, links, alerts, episode_id)
    finally:
        await servers.stop()
