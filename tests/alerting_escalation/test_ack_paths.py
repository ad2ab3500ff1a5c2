"""Acknowledgement over real HTTP: API, CLI, signed links (tampered and expired refused), voice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import httpx
import pytest
from fastapi import FastAPI

from controlplane.alerting.config import Escalation, EscalationStep
from controlplane.alerting.escalation import (
    AckLinks,
    Acknowledgements,
    EscalationStore,
    EscalationTracker,
    ack_command,
)
from controlplane.alerting.escalation.api import router
from controlplane.auth import TokenRegistry
from controlplane.clock import ManualClock
from controlplane.storage import AlertRepository, Database
from controlplane.web.errors import install_error_handlers
from controlplane.web.serving import Served, ServerGroup

FIRED = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
GROUP = '{}/{severity="critical"}:{alertname="SupplierDeliveryDrop"}'
UNKNOWN_GROUP = '{}:{alertname="Nope"}'
FINGERPRINT = "a1b2c3d4e5f60718"
OPERATOR_TOKEN = "operator-token-0123456789"
INGEST_TOKEN = "ingest-token-0123456789ab"
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

    def pending(self) -> list[str]:
        self.clock.advance(3600)
        return [receiver for due in self.tracker.due() for receiver in due.step.receivers]


@pytest.fixture
async def world(sqlite_url: str) -> AsyncIterator[World]:
    database = Database(sqlite_url)
    database.upgrade()
    clock = ManualClock(FIRED)
    store = EscalationStore(database)
    tracker = EscalationTracker(store, {CHAIN.name: CHAIN}, clock)
    tracker.start(GROUP, CHAIN.name, [FINGERPRINT], FIRED)
    assert [due.index for due in tracker.due()] == [0]
    alerts = AlertRepository(database)
    acks = Acknowledgements(store, alerts, clock)
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(router)
    app.state.tokens = TokenRegistry(
        [
            ("oncall-alice", OPERATOR_TOKEN, frozenset({"operator"})),
            ("probe", INGEST_TOKEN, frozenset({"ingest"})),
        ]
    )
    app.state.acknowledgements = acks
    servers = ServerGroup([Served("ack", app)])
    urls = await servers.start()
    links = AckLinks(b"link-secret-for-tests", urls["ack"], clock, ttl=timedelta(hours=1))
    app.state.ack_links = links
    try:
        yield World(urls["ack"], clock, tracker, acks, links, alerts)
    finally:
        await servers.stop()


async def test_operator_acks_an_alert_through_the_api_and_escalation_stops(world: World) -> None:
    async with httpx.AsyncClient(base_url=world.url) as client:
        refused = await client.post(
            f"/v1/alerts/{FINGERPRINT}/ack", headers={"Authorization": f"Bearer {INGEST_TOKEN}"}
        )
        assert refused.status_code == 403
        response = await client.post(
            f"/v1/alerts/{FINGERPRINT}/ack", headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"}
        )
    assert response.status_code == 200
    assert response.json()["groups"] == [GROUP]
    assert world.pending() == []
    [event] = world.alerts.history(FINGERPRINT)
    assert (event.kind, event.detail["by"], event.detail["via"]) == ("ack", "oncall-alice", "api")


async def test_a_group_is_acked_by_its_key_and_an_unknown_group_is_a_404(world: World) -> None:
    headers = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    async with httpx.AsyncClient(base_url=world.url, headers=headers) as client:
        unknown = await client.post(f"/v1/groups/{quote(UNKNOWN_GROUP, safe='')}/ack")
        bad_via = await client.post(
            f"/v1/groups/{quote(GROUP, safe='')}/ack", json={"via": "pigeon"}
        )
        acked = await client.post(
            f"/v1/groups/{quote(GROUP, safe='')}/ack", json={"via": "console"}
        )
    assert unknown.status_code == 404 and unknown.json()["field"] == "group_key"
    assert bad_via.status_code == 422 and bad_via.json()["field"] == "via"
    assert acked.status_code == 200 and acked.json()["via"] == "console"
    assert world.pending() == []


async def test_the_cli_acks_an_alert_and_fails_for_an_unknown_one(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await asyncio.to_thread(ack_command, world.url, OPERATOR_TOKEN, FINGERPRINT) == 0
    assert GROUP in capsys.readouterr().out
    assert await asyncio.to_thread(ack_command, world.url, OPERATOR_TOKEN, "ffffffffffffffff") == 1
    assert "no alert with fingerprint" in capsys.readouterr().err
    assert world.pending() == []
    [event] = world.alerts.history(FINGERPRINT)
    assert event.detail["via"] == "cli"


async def test_a_signed_link_acks_the_group_without_a_token(world: World) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.get(world.links.url(GROUP))
    assert response.status_code == 200
    assert "Acknowledged" in response.text
    assert world.pending() == []
    [event] = world.alerts.history(FINGERPRINT)
    assert event.detail["via"] == "link"


def _tampered(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    query.update(changes)
    return f"{parts.scheme}://{parts.netloc}{parts.path}?{urlencode(query)}"


async def test_tampered_and_expired_links_are_refused_and_escalation_goes_on(
    world: World,
) -> None:
    url = world.links.url(GROUP)
    sig = parse_qs(urlsplit(url).query)["sig"][0]
    exp = parse_qs(urlsplit(url).query)["exp"][0]
    async with httpx.AsyncClient() as client:
        other_group = await client.get(_tampered(url, g='{}:{alertname="Other"}'))
        forged_sig = await client.get(
            _tampered(url, sig=sig[:-1] + ("0" if sig[-1] != "0" else "1"))
        )
        later_exp = await client.get(_tampered(url, exp=str(int(exp) + 86400)))
        world.clock.advance(3601)
        expired = await client.get(url)
    for response, field in ((other_group, "sig"), (forged_sig, "sig"), (later_exp, "sig")):
        assert response.status_code == 403 and response.json()["field"] == field
    assert expired.status_code == 403 and expired.json() == {
        "error": "the link has expired",
        "field": "exp",
    }
    assert world.pending() == ["voice-primary", "voice-secondary"]


def _voice_push(call_id: str, status_code: str, dtmf: str | None = None) -> list[dict[str, str]]:
    record = {
        "call_id": call_id,
        "status_code": status_code,
        "status_time": "2026-03-02 09:10:05",
        "out_id": "esc-1",
    }
    if dtmf is not None:
        record["dtmf"] = dtmf
    return [record]


async def test_pressing_1_during_the_voice_call_acks_the_group(world: World) -> None:
    world.clock.advance(600)
    assert [d.step.receivers for d in world.tracker.due()] == [("voice-primary",)]
    # The voice notifier remembers the OutId it sent; the push carries it back as out_id.
    world.acks.remember_call("esc-1", GROUP)
    call_id = "116012354148^100000000001"
    async with httpx.AsyncClient(base_url=world.url) as client:
        for push in (
            _voice_push(call_id, "200101"),
            _voice_push(call_id, "200102"),
            _voice_push(call_id, "300000", dtmf="2"),
        ):
            answer = await client.post("/v1/callbacks/voice", json=push)
            assert answer.json() == {"code": 0, "msg": "accepted"}
        assert world.alerts.history(FINGERPRINT) == []  # other keys do not acknowledge
        pressed = await client.post("/v1/callbacks/voice", json=_voice_push(call_id, "300000", "1"))
        garbage = await client.post("/v1/callbacks/voice", content=b"{not json")
    assert pressed.status_code == 200
    assert garbage.status_code == 400 and garbage.json()["code"] == 1
    assert world.pending() == []
    [event] = world.alerts.history(FINGERPRINT)
    assert (event.detail["via"], event.detail["group_key"]) == ("voice", GROUP)


async def test_a_key_press_for_an_unknown_call_is_accepted_and_acks_nothing(world: World) -> None:
    async with httpx.AsyncClient(base_url=world.url) as client:
        answer = await client.post("/v1/callbacks/voice", json=_voice_push("1^2", "300000", "1"))
    assert answer.json() == {"code": 0, "msg": "accepted"}
    assert world.pending() == ["voice-primary", "voice-secondary"]
