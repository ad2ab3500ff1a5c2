"""The DingTalk fake's checks, driven by raw requests: IP allow-list, schema, `sign` decoding."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx
import orjson
import pytest

from notifiers.dingtalk import DingTalkConfig, DingTalkNotifier, dingtalk_signature
from smsplatform.clock import ManualClock
from testbench.fakes.dingtalk import DingTalkFake, FakeRobot
from testbench.fakes.server import running_fake

SECRET = "SECfake0c5ad5e2b4b7e9f9c3d2a1e0f"
STARTED = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
TEXT = {"msgtype": "text", "text": {"content": "disk full on sms-gw-1"}}
OK = {"errcode": 0, "errmsg": "ok"}


def timestamp_whose_sign(has: str, lacks: str = "") -> str:
    """The first whole second from STARTED whose Base64 sign holds all of `has`, none of `lacks`.

    Whole seconds, so a client clock set to it signs exactly this millisecond timestamp.
    """
    start_s = int(STARTED.timestamp())
    for offset_s in range(3600):  # within the fake's ±1 h, however far the search goes
        timestamp = str((start_s + offset_s) * 1000)
        sign = dingtalk_signature(SECRET, timestamp)
        if all(c in sign for c in has) and not any(c in sign for c in lacks):
            return timestamp
    raise AssertionError(f"no sign with {has!r} and without {lacks!r} within an hour")


@dataclass
class World:
    fake: DingTalkFake
    base_url: str
    client: httpx.AsyncClient

    async def post(self, query: str, message: Any = TEXT) -> Any:
        """The fake's answer to `message` sent with the raw query string `query`."""
        answer = await self.client.post(
            f"{self.base_url}/robot/send?{query}",
            content=orjson.dumps(message),
            headers={"Content-Type": "application/json"},
        )
        assert answer.status_code == 200  # DingTalk answers every refusal with HTTP 200 too
        return answer.json()


@pytest.fixture
async def world() -> AsyncIterator[World]:
    robots = [
        FakeRobot("open"),
        FakeRobot("signed", secret=SECRET),
        FakeRobot("office-block", allowed_ips=("10.0.0.0/8",)),
        FakeRobot("office-or-loopback-block", allowed_ips=("10.0.0.0/8", "127.0.0.0/8")),
        FakeRobot("loopback-address", allowed_ips=("127.0.0.1",)),
        FakeRobot("office-address-signed", secret=SECRET, allowed_ips=("10.1.2.3",)),
    ]
    fake = DingTalkFake(robots, ManualClock(STARTED))
    async with running_fake(fake.app) as base_url, httpx.AsyncClient() as client:
        yield World(fake, base_url, client)


# --- IP allow-list (WIRE.md §1 security modes: addresses or CIDR blocks) -------------------------
async def test_sender_outside_the_allowed_block_is_refused(world: World) -> None:
    answer = await world.post("access_token=office-block")
    assert answer == {"errcode": 310000, "errmsg": "ip 127.0.0.1 not in whitelist"}
    assert world.fake.inbox.bodies() == []


@pytest.mark.parametrize("token", ["office-or-loopback-block", "loopback-address"])
async def test_sender_inside_an_allowed_block_or_at_an_allowed_address_is_accepted(
    world: World, token: str
) -> None:
    assert await world.post(f"access_token={token}") == OK
    assert world.fake.inbox.bodies(token) == [TEXT]


async def test_ip_allow_list_is_checked_before_the_signature(world: World) -> None:
    # Check order token → IP → timestamp → sign (WIRE.md §7.2): no sign, yet the IP answers.
    answer = await world.post("access_token=office-address-signed")
    assert answer == {"errcode": 310000, "errmsg": "ip 127.0.0.1 not in whitelist"}


# --- message schema (WIRE.md §1 body table) ------------------------------------------------------
@pytest.mark.parametrize(
    "message",
    [
        {"msgtype": "image", "image": {"picURL": "http://console.local/graph.png"}},
        {"msgtype": "feedCard", "feedCard": {"links": []}},
        {"text": {"content": "no msgtype at all"}},
    ],
)
async def test_unknown_msgtype_is_refused_with_400105(world: World, message: Any) -> None:
    answer = await world.post("access_token=open", message)
    assert answer["errcode"] == 400105
    assert world.fake.inbox.bodies() == []


@pytest.mark.parametrize(
    "message",
    [
        {"msgtype": "text"},
        {"msgtype": "text", "text": {"content": ""}},
        {"msgtype": "markdown", "markdown": {"text": "no title"}},
        {"msgtype": "link", "link": {"title": "t", "text": "no messageUrl"}},
        {"msgtype": "actionCard", "actionCard": {"title": "t", "text": "no button"}},
        {"msgtype": "actionCard", "actionCard": {"title": "t", "text": "x", "singleTitle": "Ack"}},
        {
            "msgtype": "actionCard",
            "actionCard": {"title": "t", "text": "x", "singleTitle": "", "singleURL": "http://a"},
        },
        {"msgtype": "actionCard", "actionCard": {"title": "t", "text": "x", "btns": []}},
        {
            "msgtype": "actionCard",
            "actionCard": {"title": "t", "text": "x", "btns": [{"title": "Ack"}]},
        },
    ],
)
async def test_missing_required_field_is_refused_with_40035(world: World, message: Any) -> None:
    answer = await world.post("access_token=open", message)
    assert answer["errcode"] == 40035
    assert world.fake.inbox.bodies() == []


@pytest.mark.parametrize(
    "message",
    [
        {"msgtype": "link", "link": {"title": "t", "text": "x", "messageUrl": "http://a"}},
        {
            "msgtype": "actionCard",
            "actionCard": {
                "title": "t",
                "text": "x",
                "singleTitle": "Ack",
                "singleURL": "http://a",
            },
        },
        {
            "msgtype": "actionCard",
            "actionCard": {
                "title": "t",
                "text": "x",
                "btns": [{"title": "Ack", "actionURL": "http://a"}],
                "btnOrientation": "1",
            },
        },
    ],
)
async def test_message_with_every_required_field_is_accepted(world: World, message: Any) -> None:
    assert await world.post("access_token=open", message) == OK


# --- `sign` URL-encoding (WIRE.md §1 signing: the server decodes the query normally) -------------
async def test_percent_encoded_sign_is_accepted_and_a_raw_plus_is_refused(world: World) -> None:
    timestamp = timestamp_whose_sign(has="+")
    sign = dingtalk_signature(SECRET, timestamp)
    query = f"access_token=signed&timestamp={timestamp}&sign="
    raw = await world.post(query + sign)  # the `+` decodes to a space
    encoded = await world.post(query + quote(sign, safe=""))
    assert raw == {"errcode": 310000, "errmsg": "sign not match"}
    assert encoded == OK


async def test_sign_encoded_twice_is_refused(world: World) -> None:
    timestamp = timestamp_whose_sign(has="+")
    twice = quote(quote(dingtalk_signature(SECRET, timestamp), safe=""), safe="")
    answer = await world.post(f"access_token=signed&timestamp={timestamp}&sign={twice}")
    assert answer == {"errcode": 310000, "errmsg": "sign not match"}


async def test_raw_slash_and_padding_survive_standard_decoding(world: World) -> None:
    # Only `+` changes meaning in a query string: `/` and `=` decode to themselves.
    timestamp = timestamp_whose_sign(has="/=", lacks="+")
    sign = dingtalk_signature(SECRET, timestamp)
    assert await world.post(f"access_token=signed&timestamp={timestamp}&sign={sign}") == OK


async def test_client_percent_encodes_plus_slash_and_padding(world: World) -> None:
    timestamp = timestamp_whose_sign(has="+/=")
    clock = ManualClock(datetime.fromtimestamp(int(timestamp) // 1000, UTC))
    notifier = DingTalkNotifier(
        DingTalkConfig("signed", SECRET, base_url=world.base_url), clock=clock, client=world.client
    )
    url = notifier.url()
    sign = dingtalk_signature(SECRET, timestamp)
    assert url.endswith(f"&timestamp={timestamp}&sign={quote(sign, safe='')}")
    assert all(escaped in url for escaped in ("%2B", "%2F", "%3D"))
