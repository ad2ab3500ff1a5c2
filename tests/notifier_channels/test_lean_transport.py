"""The channels' HTTP client: httpx builds requests, lean kept-alive connections send them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from notifiers.base import NotifyResult, Outcome
from notifiers.transport import new_client, request
from smsplatform.http.wire import ConnectionPool
from testbench.fakes.server import running_fake

Message = dict[str, Any]


class SlowEndpoint:
    """An HTTP endpoint answering 200 after `delay_s`; notes each request's client port, so a
    test counts the connections its requests came on."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.client_ports: list[int] = []

    async def __call__(
        self,
        scope: Message,
        receive: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
    ) -> None:
        self.client_ports.append(scope["client"][1])
        while (await receive()).get("more_body"):
            pass
        await asyncio.sleep(self.delay_s)
        headers = [(b"content-length", b"2")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})

    @property
    def connections(self) -> int:
        return len(set(self.client_ports))


async def test_channel_requests_reuse_one_kept_alive_connection() -> None:
    endpoint = SlowEndpoint()
    async with running_fake(endpoint) as url:
        client = new_client()
        answers = [await client.post(f"{url}/robot/send", json={"n": n}) for n in range(3)]
        await client.aclose()
    assert [(a.status_code, a.content) for a in answers] == [(200, b"ok")] * 3
    assert endpoint.connections == 1


async def test_a_silent_service_is_a_retry_after_the_clients_read_timeout() -> None:
    async with running_fake(SlowEndpoint(delay_s=0.5)) as url:
        client = new_client()
        client.timeout = httpx.Timeout(0.1)
        answer = await request(client, "webhook", "POST", f"{url}/hook", content=b"{}")
        await client.aclose()
    assert isinstance(answer, NotifyResult)
    assert (answer.outcome, answer.error_code) == (Outcome.RETRY, "transport")
    assert "ReadTimeout" in answer.detail


async def test_requests_beyond_the_pool_wait_for_a_free_connection() -> None:
    endpoint = SlowEndpoint(delay_s=0.05)
    async with running_fake(endpoint) as url:
        pool = ConnectionPool(httpx.URL(url), None, idle_expiry_s=10, max_connections=2)
        answers = await asyncio.gather(
            *(pool.send(httpx.Request("POST", f"{url}/hook"), httpx.Timeout(2.0)) for _ in range(5))
        )
        await pool.aclose()
    assert [a.status_code for a in answers] == [200] * 5
    assert endpoint.connections == 2


async def test_no_free_connection_within_the_pool_timeout_is_a_pool_timeout() -> None:
    async with running_fake(SlowEndpoint(delay_s=0.3)) as url:
        pool = ConnectionPool(httpx.URL(url), None, idle_expiry_s=10, max_connections=1)
        timeout = httpx.Timeout(2.0, pool=0.05)
        first = asyncio.create_task(pool.send(httpx.Request("POST", f"{url}/a"), timeout))
        await asyncio.sleep(0.01)
        with pytest.raises(httpx.PoolTimeout):
            await pool.send(httpx.Request("POST", f"{url}/b"), timeout)
        assert (await first).status_code == 200
        await pool.aclose()
