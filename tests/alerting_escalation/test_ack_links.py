"""Signed acknowledgement links: opening one only shows what it would stop, the page's button
acknowledges the episode the link names (never a later firing of the group), and tampered,
expired or cross-site requests are refused."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from ack_world import FINGERPRINT, GROUP, World, ack_world

HIDDEN_FIELD = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)">')
ACK_FORM = '<form method="post" action="/v1/ack">'


@pytest.fixture
async def world(sqlite_url: str) -> AsyncIterator[World]:
    async with ack_world(sqlite_url) as world:
        yield world


def form_of(page: str) -> dict[str, str]:
    """The hidden fields the confirmation page's form posts back."""
    return {name: html.unescape(value) for name, value in HIDDEN_FIELD.findall(page)}


def fields_of(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def tampered(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}?{urlencode(fields_of(url) | changes)}"


async def test_opening_a_link_shows_what_it_would_stop_and_acknowledges_nothing(
    world: World,
) -> None:
    async with httpx.AsyncClient() as client:  # as a chat's link preview would
        page = await client.get(world.links.url(GROUP, world.episode_id))
    assert page.status_code == 200
    assert GROUP in html.unescape(page.text) and ACK_FORM in page.text
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert world.alerts.history(FINGERPRINT) == []
    assert world.pending() == ["voice-primary", "voice-secondary"]


async def test_the_pages_button_acknowledges_the_episode_once(world: World) -> None:
    async with httpx.AsyncClient() as client:
        page = await client.get(world.links.url(GROUP, world.episode_id))
        form = form_of(page.text)
        acked = await client.post(f"{world.url}/v1/ack", data=form)
        again = await client.post(f"{world.url}/v1/ack", data=form)
    assert sorted(form) == ["e", "exp", "g", "sig"]
    assert acked.status_code == 200 and "Acknowledged: its escalation stops" in acked.text
    assert again.status_code == 200 and "Already acknowledged or resolved" in again.text
    assert world.pending() == []
    [event] = world.alerts.history(FINGERPRINT)
    assert (event.detail["via"], event.detail["by"]) == ("link", "link")


async def test_a_link_from_an_earlier_firing_cannot_acknowledge_the_next(world: World) -> None:
    earlier = world.links.url(GROUP, world.episode_id)
    later_episode = world.fire_again()
    async with httpx.AsyncClient() as client:
        page = await client.get(earlier)
        posted = await client.post(f"{world.url}/v1/ack", data=fields_of(earlier))
        # Nor can its signature be moved onto the later episode.
        moved = await client.get(tampered(earlier, e=str(later_episode)))
    assert page.status_code == 200 and ACK_FORM not in page.text
    assert "Already acknowledged or resolved" in page.text
    assert posted.status_code == 200 and "Already acknowledged or resolved" in posted.text
    assert moved.status_code == 403 and moved.json()["field"] == "sig"
    assert world.alerts.history(FINGERPRINT) == []
    assert world.pending() == ["voice-primary", "voice-secondary"]


async def test_tampered_and_expired_links_are_refused_and_escalation_goes_on(
    world: World,
) -> None:
    url = world.links.url(GROUP, world.episode_id)
    sig, exp = fields_of(url)["sig"], fields_of(url)["exp"]
    async with httpx.AsyncClient() as client:
        other_group = await client.get(tampered(url, g='{}:{alertname="Other"}'))
        flipped = sig[:-1] + ("0" if sig[-1] != "0" else "1")
        forged_sig = await client.get(tampered(url, sig=flipped))
        later_exp = await client.get(tampered(url, exp=str(int(exp) + 86400)))
        not_a_number = await client.get(tampered(url, e="²"))
        forged_post = await client.post(
            f"{world.url}/v1/ack", data=fields_of(url) | {"g": '{}:{alertname="Other"}'}
        )
        world.clock.advance(3601)
        expired = await client.get(url)
        expired_post = await client.post(f"{world.url}/v1/ack", data=fields_of(url))
    for response, field in (
        (other_group, "sig"),
        (forged_sig, "sig"),
        (later_exp, "sig"),
        (not_a_number, "e"),
        (forged_post, "sig"),
        (expired_post, "exp"),
    ):
        assert response.status_code == 403 and response.json()["field"] == field
    assert expired.status_code == 403 and expired.json() == {
        "error": "the link has expired",
        "field": "exp",
    }
    assert world.pending() == ["voice-primary", "voice-secondary"]


async def test_a_form_posted_from_another_site_is_refused(world: World) -> None:
    fields = fields_of(world.links.url(GROUP, world.episode_id))
    async with httpx.AsyncClient() as client:
        refused = await client.post(
            f"{world.url}/v1/ack", data=fields, headers={"Origin": "https://evil.example"}
        )
    assert refused.status_code == 403 and refused.json()["field"] == "origin"
    assert world.pending() == ["voice-primary", "voice-secondary"]
