"""The console: alerts in force, acknowledgement by its form, and the notifier fakes' inbox."""

from __future__ import annotations

import html
import re
from pathlib import Path

from alerting_world import HEADERS, TOKEN, World, fire, started_world

from controlplane.web.console import ShownFake, running_fakes

SUMMARY = "aliyun to cmcc: delivery 50.00%"
ACK_FORM_KEY = re.compile(r'name="group_key" value="([^"]+)"')


async def _escalating(world: World) -> str:
    """Fire the rule and let group_wait pass: the group is notified and starts escalating."""
    await fire(world)
    await world.advance(30)
    assert len(world.dingtalk_texts()) == 1
    page = await world.http.get("/console", headers=HEADERS)
    [group_key] = ACK_FORM_KEY.findall(page.text)
    return html.unescape(group_key)


async def test_the_console_lists_a_firing_alert(tmp_path: Path, sqlite_url: str) -> None:
    async with started_world(sqlite_url, tmp_path) as world:
        await fire(world)
        page = await world.http.get("/console", headers=HEADERS)
        assert page.status_code == 200
        assert "SupplierDeliveryRateLow" in page.text
        assert SUMMARY in page.text
        assert 'class="firing"' in page.text
        [alert] = (await world.http.get("/v1/alerts", headers=HEADERS)).json()["alerts"]
        detail = await world.http.get(f"/console/alerts/{alert['fingerprint']}", headers=HEADERS)
        assert detail.status_code == 200 and SUMMARY in detail.text
        # The group's message links to the console.
        await world.advance(30)
        [text] = world.dingtalk_texts()
        assert f"[Console]({str(world.http.base_url).rstrip('/')}/console)" in text, text


async def test_the_ack_button_acks_the_group_via_console_and_its_escalation_stops(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with started_world(sqlite_url, tmp_path) as world:
        group_key = await _escalating(world)
        login = await world.http.post("/console/login", data={"token": TOKEN})
        assert login.status_code == 303  # the token now rides in the console's cookie

        acked = await world.http.post("/console/ack", data={"group_key": group_key})
        assert acked.status_code == 303
        page = await world.http.get(acked.headers["location"])
        assert "Acknowledged" in page.text and "No group is escalating." in page.text

        await world.advance(300)  # the 5 m voice step is never sent
        assert world.fakes.voice.calls == {}
        [alert] = (await world.http.get("/v1/alerts", headers=HEADERS)).json()["alerts"]
        detail = await world.http.get(f"/v1/alerts/{alert['fingerprint']}", headers=HEADERS)
        [ack] = [event for event in detail.json()["history"] if event["kind"] == "ack"]
        assert ack["detail"]["via"] == "console" and ack["detail"]["by"] == "root"


async def test_an_ack_without_a_valid_token_is_refused_and_escalation_goes_on(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with started_world(sqlite_url, tmp_path) as world:
        group_key = await _escalating(world)
        anonymous = await world.http.post("/console/ack", data={"group_key": group_key})
        forged = await world.http.post(
            "/console/ack",
            data={"group_key": group_key},
            headers={"Cookie": "smsctl_console_token=not-a-token-of-ours-at-all"},
        )
        assert (anonymous.status_code, forged.status_code) == (401, 401)
        reading = await world.http.get("/console")
        assert reading.status_code == 303 and reading.headers["location"] == "/console/login"

        await world.advance(270)  # five minutes after firing: the voice step still goes out
        assert len(world.fakes.voice.calls) == 1


async def test_the_inbox_page_shows_what_the_dingtalk_fake_received(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with started_world(sqlite_url, tmp_path) as world:
        dingtalk = ShownFake("DingTalk", world.fakes.urls["dingtalk"], world.fakes.dingtalk.inbox)
        with running_fakes.showing([dingtalk]):
            await fire(world)
            await world.advance(30)
            page = await world.http.get("/console/inbox", headers=HEADERS)
        assert page.status_code == 200
        assert "DingTalk" in page.text and "1 received" in page.text
        assert SUMMARY in page.text
        assert running_fakes.shown() == []  # the fake left the page when it stopped serving
