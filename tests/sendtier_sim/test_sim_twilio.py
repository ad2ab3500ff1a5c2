"""The Twilio simulator over real HTTP: Basic auth, 201 resources, signed status callbacks."""

from __future__ import annotations

from typing import Any

import httpx
from sendtier_sim_helpers import (
    TWILIO,
    TWILIO_AUTH,
    manual_clock,
    plan,
    running_receiver,
    twilio_messages_url,
)

from suppliers.signing import twilio_signature_valid
from testbench.simulators import RunningSimulator, SimulatorConfig, running_simulator

US_MOBILE = "+14155552671"


def config(**plan_overrides: Any) -> SimulatorConfig:
    return SimulatorConfig(account=TWILIO, plan=plan(**plan_overrides), background_push=False)


async def create(
    client: httpx.AsyncClient,
    sim: RunningSimulator,
    to: str = US_MOBILE,
    auth: tuple[str, str] = TWILIO_AUTH,
    **fields: str,
) -> httpx.Response:
    form = {"To": to, "From": TWILIO.from_number or "", "Body": "Your code is 1234", **fields}
    return await client.post(twilio_messages_url(sim.base_url), data=form, auth=auth)


async def test_authenticated_create_answers_201_with_a_queued_message_resource() -> None:
    clock = manual_clock()
    async with running_simulator(config(), clock) as sim, httpx.AsyncClient() as client:
        response = await create(client, sim)
        fetched = await client.get(f"{sim.base_url}{response.json()['uri']}", auth=TWILIO_AUTH)
    message = response.json()
    assert response.status_code == 201
    assert message["sid"].startswith("SM") and len(message["sid"]) == 34
    assert message["status"] == "queued" and message["num_segments"] == "1"
    assert message["to"] == US_MOBILE and message["from"] == TWILIO.from_number
    assert message["direction"] == "outbound-api" and message["price"] is None
    assert message["date_created"].endswith("+0000")
    assert fetched.json()["sid"] == message["sid"]


async def test_wrong_credentials_and_bad_requests_get_twilio_error_bodies() -> None:
    clock = manual_clock()
    async with running_simulator(config(), clock) as sim, httpx.AsyncClient() as client:
        unauthorized = await create(client, sim, auth=(TWILIO.account_sid, "wrong"))
        bad_to = await create(client, sim, to="+1555")
        no_body = await create(client, sim, Body="")
        not_ours = await create(client, sim, From="+15005550009")
    assert unauthorized.status_code == 401
    assert unauthorized.json() == {
        "code": 20003,
        "message": "Authenticate",
        "more_info": "https://www.twilio.com/docs/errors/20003",
        "status": 401,
    }
    assert (bad_to.status_code, bad_to.json()["code"]) == (400, 21211)
    assert (no_body.status_code, no_body.json()["code"]) == (400, 21602)
    assert (not_ours.status_code, not_ours.json()["code"]) == (400, 21606)


async def test_error_rate_half_fails_about_half_with_codes_from_the_mix() -> None:
    clock = manual_clock()
    submit = {"error_rate": 0.5, "error_mix": {"20500": 1, "21614": 1}}
    async with (
        running_simulator(config(submit=submit), clock) as sim,
        httpx.AsyncClient() as client,
    ):
        statuses = [(await create(client, sim)).status_code for _ in range(200)]
    failures = [status for status in statuses if status != 201]
    assert 70 <= len(failures) <= 130
    assert set(failures) == {500, 400}


async def test_throttle_answers_429_and_an_empty_balance_fails_as_30002_callbacks() -> None:
    clock = manual_clock()
    async with running_receiver((204, b"")) as receiver:
        throttled = config(throttle={"qps": 1, "burst": 1})
        async with running_simulator(throttled, clock) as sim, httpx.AsyncClient() as client:
            allowed = await create(client, sim)
            refused = await create(client, sim)
        assert allowed.status_code == 201
        assert (refused.status_code, refused.json()["code"]) == (429, 20429)

        broke = config(balance={"initial_units": 0.0079, "cost_per_segment": 0.0079})
        async with running_simulator(broke, clock) as sim, httpx.AsyncClient() as client:
            callback = receiver.url + "/status"
            paid = await create(client, sim, StatusCallback=callback)
            unpaid = await create(client, sim, StatusCallback=callback)
            balance = await client.get(
                f"{sim.base_url}/2010-04-01/Accounts/{TWILIO.account_sid}/Balance.json",
                auth=TWILIO_AUTH,
            )
            clock.advance(5)
            await sim.flush()
    assert (paid.status_code, unpaid.status_code) == (201, 201)
    assert balance.json() == {
        "account_sid": TWILIO.account_sid,
        "balance": "0.00",
        "currency": "USD",
    }
    by_sid: dict[str, list[dict[str, str]]] = {}
    for push in receiver.pushes:
        form = push.form()
        by_sid.setdefault(form["MessageSid"], []).append(form)
    unpaid_statuses = by_sid[unpaid.json()["sid"]]
    assert [(f["MessageStatus"], f.get("ErrorCode")) for f in unpaid_statuses] == [
        ("failed", "30002")
    ]
    assert {f["MessageStatus"] for f in by_sid[paid.json()["sid"]]} == {"sent", "delivered"}


async def test_status_callbacks_are_signed_for_the_exact_url_and_follow_sent_then_final() -> None:
    clock = manual_clock()
    delivery = {"default": {"DELIVERED": 0, "FAILED": {"weight": 1, "codes": ["30003"]}}}
    async with (
        running_receiver((200, b"")) as receiver,
        running_simulator(config(delivery=delivery), clock) as sim,
        httpx.AsyncClient() as client,
    ):
        callback = receiver.url + "/twilio/status?message_id=m-1"
        created = await create(client, sim, StatusCallback=callback)
        clock.advance(0.5)
        assert await sim.flush() == 1  # `sent` after a tenth of the 5 s delay
        clock.advance(4.5)
        assert await sim.flush() == 1
        fetched = await client.get(f"{sim.base_url}{created.json()['uri']}", auth=TWILIO_AUTH)
    sent, final = receiver.pushes
    assert sent.url == callback
    assert sent.form()["MessageStatus"] == "sent"
    assert final.form()["MessageStatus"] == "undelivered"
    assert final.form()["ErrorCode"] == "30003"
    assert final.form()["RawDlrDoneDate"] == "2603020100"
    for push in (sent, final):
        signature = push.headers["x-twilio-signature"]
        assert twilio_signature_valid("sim-twilio-token", push.url, push.form(), signature)
        assert not twilio_signature_valid("other-token", push.url, push.form(), signature)
    assert fetched.json()["status"] == "undelivered" and fetched.json()["error_code"] == 30003


async def test_magic_number_callbacks_are_repushed_a_minute_after_the_receiver_fails() -> None:
    clock = manual_clock()
    async with running_receiver((200, b"")) as receiver:
        receiver.replies += [(500, b""), (500, b"")]
        async with running_simulator(config(), clock) as sim, httpx.AsyncClient() as client:
            callback = receiver.url + "/s"
            await create(client, sim, to="+8613800000001", StatusCallback=callback)
            await create(client, sim, to="+8613800000003", StatusCallback=callback)
            assert await sim.flush() == 0  # …0001: `sent` and `delivered` at once, both refused
            clock.advance(59)
            assert await sim.flush() == 0
            clock.advance(1)
            assert await sim.flush() == 2
            state = sim.state()
    statuses = sorted(push.form()["MessageStatus"] for push in receiver.pushes)
    assert statuses == ["delivered", "delivered", "sent", "sent"]  # …0003 is never reported
    assert state["counters"]["push_failures"] == 2
    assert state["counters"]["receipts_pushed"] == 2
