"""The lean supplier connection against a raw socket server: keep-alive, chunked and closing
answers, broken answers and cancellations, each as httpx would report them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import pytest

from smsplatform.http.wire import HttpConnection

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
TIMEOUT = httpx.Timeout(2.0)


@asynccontextmanager
async def raw_server(handler: Handler) -> AsyncIterator[tuple[str, list[int]]]:
    """A TCP server on a free 127.0.0.1 port; yields its URL and a log of connections."""
    connections: list[int] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        try:
            await handler(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", connections
    finally:
        server.close()
        await server.wait_closed()


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return head + await reader.readexactly(length)


def answering(*answers: bytes) -> Handler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for answer in answers:
            await read_request(reader)
            writer.write(answer)
            await writer.drain()
        await reader.read()  # keep the connection until the client closes it

    return handler


def post(url: str, body: bytes = b'{"a":1}') -> httpx.Request:
    return httpx.Request("POST", f"{url}/submit?x=1", content=body)


async def test_answers_on_one_kept_alive_connection() -> None:
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    async with raw_server(answering(ok, ok)) as (url, connections):
        connection = HttpConnection(httpx.URL(url), None, idle_expiry_s=10)
        first = await connection.send(post(url), TIMEOUT)
        second = await connection.send(post(url), TIMEOUT)
        await connection.aclose()
    assert (first.status_code, first.content, second.content) == (200, b"ok", b"ok")
    assert len(connections) == 1


async def test_chunked_answer_is_joined_and_connection_close_is_honoured() -> None:
    chunked = (
        b"HTTP/1.1 429 Too Many\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n"
        b'Retry-After: 3\r\n\r\n4\r\n{"co\r\n6\r\nde":8}\r\n0\r\n\r\n'
    )
    async with raw_server(answering(chunked)) as (url, connections):
        connection = HttpConnection(httpx.URL(url), None, idle_expiry_s=10)
        answer = await connection.send(post(url), TIMEOUT)
        again = await connection.send(post(url), TIMEOUT)
        await connection.aclose()
    assert answer.status_code == 429
    assert answer.json() == {"code": 8}
    assert answer.headers["retry-after"] == "3"
    assert again.json() == {"code": 8}
    assert len(connections) == 2  # the server closed the first: a new one for the second


async def test_server_closing_mid_answer_is_a_protocol_error() -> None:
    broken = b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nonly part"

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(broken)
        await writer.drain()

    async with raw_server(handler) as (url, _):
        connection = HttpConnection(httpx.URL(url), None, idle_expiry_s=10)
        with pytest.raises(httpx.RemoteProtocolError):
            await connection.send(post(url), TIMEOUT)


async def test_refused_connection_is_a_connect_error() -> None:
    async with raw_server(answering()) as (url, _):
        pass  # closed: nothing listens there any more
    connection = HttpConnection(httpx.URL(url), None, idle_expiry_s=10)
    with pytest.raises(httpx.ConnectError):
        await connection.send(post(url), TIMEOUT)


async def test_silent_server_is_a_read_timeout() -> None:
    async with raw_server(answering()) as (url, _):
        connection = HttpConnection(httpx.URL(url), None, idle_expiry_s=10)
        with pytest.raises(httpx.ReadTimeout):
            await connection.send(post(url), httpx.Timeout(0.1))


async def test_a_cancelled_request_leaves_no_stale_answer_for_the_next() -> None:
    slow_then_fast = [0.3, 0.0]

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while slow_then_fast:
            request = await read_request(reader)
            await asyncio.sleep(slow_then_fast.pop(0))
            body = request.split(b"\r\n\r\n", 1)[1]
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            await writer.drain()

    async with raw_server(handler) as (url, connections):
        connection = HttpConnection(httpx.URL(url), None, idle_expiry_s=10)
        first = asyncio.create_task(connection.send(post(url, b"first"), TIMEOUT))
        await asyncio.sleep(0.05)
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        answer = await connection.send(post(url, b"second"), TIMEOUT)
        await connection.aclose()
    assert answer.content == b"second"
    assert len(connections) == 2
