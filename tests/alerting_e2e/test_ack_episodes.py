"""Acks in a running control plane: opening a link acks nothing until its page's button is
pressed, a link or a call of one firing never acks the next, and the voice service's pushes
count only with this deployment's callback token."""

from __future__ import annotations

import html
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from alerting_world import World, fire, started_world

ACK_LINK = re.compile(r"\((http://127\.0\.0\.1:\d+/v1/ack\?[^)]+)\)")
HIDDEN_FIELD = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)">')


def latest_link(world: World) -> str:
    """The ack link of the latest DingTalk message, as a path on the control plane."""
    [link] = ACK_LINK.findall(world.dingtalk_texts()[-1])
    parts = urlsplit(link)
    return f"{parts.path}?{parts.query}"


def fields_of(link: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(link).query).items()}


def form_of(page: str) -> dict[str, str]:
    return {name: html.unescape(value) for name, value in HIDDEN_FIELD.findall(page)}


async def resolve(world: World) -> None:
    """The receipts leave the rule's 60 s window and good ones come: the alert resolves."""
    world.clock.advance(60)
    await world.feed(delivered_share=1.0)
    await world.evaluate()
    await world.advance(60)
    assert "resolved" in world.dingtalk_texts()[-1].lower()


async def test_opening_the_ack_link_stops_nothing_until_its_button_is_pressed(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with started_world(sqlite_url, tmp_path) as world:
        await fire(world)
        await world.advance(30)
        opened = await world.http.get(latest_link(world))  # a chat's link preview fetches it
        assert opened.status_code == 200 and "Acknowledge" in opened.text
        await world.advance(270)  # five minutes after the alert started firing
        assert len(world.fakes.voice.calls) == 1  # the opened link acknowledged nothing

        pressed = await world.http.post("/v1/ack", data=form_of(opened.text))
        assert pressed.status_code == 200 and "Acknowledged" in pressed.text
        await world.advance(600)  # the 10 m step is never sent
        assert len(world.fakes.voice.calls) == 1


async def test_a_link_from_an_earlier_firing_does_not_stop_the_next(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with started_world(sqlite_url, tmp_path) as world:
        await fire(world)
        await world.advance(30)
        earlier = latest_link(world)
        await resolve(world)
        await fire(world)  # the same group fires again: a new episode, a new link
        await world.advance(30)
        assert latest_link(world) != earlier

        opened = await world.http.get(earlier)
        posted = await world.http.post("/v1/ack", data=fields_of(earlier))
        assert "Already acknowledged or resolved" in opened.text
        assert "Already acknowledged or resolved" in posted.text
        await world.advance(270)
        assert len(world.fakes.voice.calls) == 1  # the new firing escalates on


async def test_a_key_press_pushed_without_the_callback_token_acks_nothing(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with started_world(sqlite_url, tmp_path) as world:
        voice = world.fakes.voice
        assert voice.callback_url is not None
        voice.callback_url = voice.callback_url.split("?")[0]  # configured without the token
        await fire(world)
        await world.advance(300)
        [call] = voice.calls.values()
        await voice.press_key(call.call_id, "1")
        assert voice.push_attempts and {a.http_status for a in voice.push_attempts} == {401}
        await world.advance(300)  # not acknowledged: the 10 m step calls again
        assert len(voice.calls) == 2


async def test_each_call_has_its_own_out_id_and_a_late_press_on_an_earlier_call_acks_nothing(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with started_world(sqlite_url, tmp_path) as world:
        voice = world.fakes.voice
        await fire(world)
        await world.advance(300)
        [first] = voice.calls.values()
        await resolve(world)
        await fire(world)
        await world.advance(300)  # the next firing's 5 m step calls the same group again
        [_, second] = voice.calls.values()
        assert first.out_id != second.out_id and len(second.out_id) == 15

        await voice.press_key(first.call_id, "1")  # pressed late, on the earlier firing's call
        await world.advance(300)  # the next firing is not acknowledged: its 10 m step calls
        assert len(voice.calls) == 3
