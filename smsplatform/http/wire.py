"""A lean keep-alive HTTP/1.1 client: connections, a pool per origin, and an httpx transport.

httpx builds the requests (URL joining, form and JSON bodies, auth headers) and carries the
answers, so callers read an `httpx.Response` as before; only the exchange on the socket is
ours. Through httpx's pool, httpcore and anyio a small request costs several hundred
microseconds of CPU in objects, locks and cancel scopes; the send tier's dispatch makes
thousands per second and an alert flush hundreds at once. Failures raise httpx's own
exceptions, so callers tell "never sent" from "maybe sent" as before. Shared by the send tier's
supplier adapters and the control plane's notifiers.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from functools import partial
from typing import Final

import httpx

# Headers larger than this mean the peer is not the HTTP server we expect.
MAX_HEAD_BYTES: Final = 64 * 1024
_CRLF: Final = b"\r\n"


class HttpConnection:
    """One connection to one origin, opened on first use and kept alive between requests."""

    def __init__(
        self, url: httpx.URL, ssl_context: ssl.SSLContext | None, idle_expiry_s: float
    ) -> None:
        self._host = url.host
        self._port = url.port or (443 if url.scheme == "https" else 80)
        self._ssl = ssl_context if url.scheme == "https" else None
        self._idle_expiry_s = idle_expiry_s
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._idle_since = 0.0

    async def send(self, request: httpx.Request, timeout: httpx.Timeout) -> httpx.Response:
        """Send `request` and read its whole answer; raises httpx.TransportError subclasses."""
        loop = asyncio.get_running_loop()
        if self._writer is not None and loop.time() - self._idle_since > self._idle_expiry_s:
            await self.aclose()  # idle past the expiry: the server may be closing it right now
        if self._writer is None:
            await self._connect(timeout.connect)
        assert self._reader is not None and self._writer is not None
        try:
            status, headers, body, keep_alive = await self._exchange(request, timeout)
        except BaseException:
            # Whatever is left on the line (a cancelled request's answer) is no one's now.
            self._drop()
            raise
        if keep_alive:
            self._idle_since = loop.time()
        else:
            self._drop()
        return httpx.Response(status, headers=headers, content=body, request=request)

    async def _exchange(
        self, request: httpx.Request, timeout: httpx.Timeout
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes, bool]:
        assert self._reader is not None and self._writer is not None
        try:
            self._writer.write(_request_bytes(request))
            async with asyncio.timeout(timeout.write):
                await self._writer.drain()
        except TimeoutError:
            raise httpx.WriteTimeout("write timed out", request=request) from None
        except OSError as exc:
            raise httpx.WriteError(str(exc) or type(exc).__name__, request=request) from exc
        try:
            async with asyncio.timeout(timeout.read):
                return await _read_response(self._reader)
        except TimeoutError:
            raise httpx.ReadTimeout("read timed out", request=request) from None
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            message = str(exc) or "server disconnected without a complete response"
            raise httpx.RemoteProtocolError(message, request=request) from exc

    def _drop(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()

    async def aclose(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def _connect(self, timeout_s: float | None) -> None:
        try:
            async with asyncio.timeout(timeout_s):
                self._reader, self._writer = await asyncio.open_connection(
                    self._host, self._port, ssl=self._ssl, limit=MAX_HEAD_BYTES
                )
        except TimeoutError:
            raise httpx.ConnectTimeout("connect timed out") from None
        except OSError as exc:
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from exc


class ConnectionPool:
    """Up to `max_connections` connections to one origin, each lent to one request at a time.

    Last in, first out: the warmest connections are reused and the others expire idle. Waiting
    for a free connection is a queue wait (constant per request, however many are waiting).
    """

    def __init__(
        self,
        url: httpx.URL,
        ssl_context: ssl.SSLContext | None,
        idle_expiry_s: float,
        max_connections: int,
    ) -> None:
        if max_connections < 1:
            raise ValueError("ConnectionPool: max_connections must be >= 1")
        self._new_connection = partial(HttpConnection, url, ssl_context, idle_expiry_s)
        self._connections: list[HttpConnection] = []
        self._max_connections = max_connections
        self._idle: asyncio.LifoQueue[HttpConnection] = asyncio.LifoQueue()

    async def send(self, request: httpx.Request, timeout: httpx.Timeout) -> httpx.Response:
        """Send on a free connection; httpx.PoolTimeout when none frees up within timeout.pool."""
        connection = await self._borrow(timeout.pool)
        try:
            return await connection.send(request, timeout)
        finally:
            self._idle.put_nowait(connection)  # a broken one reconnects on its next use

    async def aclose(self) -> None:
        for connection in self._connections:
            await connection.aclose()

    async def _borrow(self, pool_timeout_s: float | None) -> HttpConnection:
        if not self._idle.empty():
            return self._idle.get_nowait()
        if len(self._connections) < self._max_connections:
            connection = self._new_connection()
            self._connections.append(connection)
            return connection
        try:
            async with asyncio.timeout(pool_timeout_s):
                return await self._idle.get()
        except TimeoutError:
            raise httpx.PoolTimeout("no free connection in time") from None


class LeanTransport(httpx.AsyncBaseTransport):
    """httpx's transport interface over one ConnectionPool per origin.

    An `httpx.AsyncClient(transport=LeanTransport())` keeps httpx's whole request-building
    surface (base URLs, params, auth, JSON bodies) and sends each request this lean way;
    closing the client closes every pooled connection.
    """

    def __init__(self, idle_expiry_s: float, max_connections_per_origin: int) -> None:
        self._idle_expiry_s = idle_expiry_s
        self._max_connections = max_connections_per_origin
        self._pools: dict[tuple[bytes, bytes, int | None], ConnectionPool] = {}
        self._tls: ssl.SSLContext | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        origin = (url.raw_scheme, url.raw_host, url.port)
        pool = self._pools.get(origin)
        if pool is None:
            pool = self._pools[origin] = ConnectionPool(
                url, self._tls_for(url), self._idle_expiry_s, self._max_connections
            )
        limits = request.extensions.get("timeout", {})
        timeout = httpx.Timeout(
            connect=limits.get("connect"),
            read=limits.get("read"),
            write=limits.get("write"),
            pool=limits.get("pool"),
        )
        await request.aread()  # bodies are small and built in memory; a stream is read first
        return await pool.send(request, timeout)

    async def aclose(self) -> None:
        pools, self._pools = self._pools, {}
        for pool in pools.values():
            await pool.aclose()

    def _tls_for(self, url: httpx.URL) -> ssl.SSLContext | None:
        if url.scheme != "https":
            return None
        if self._tls is None:
            # One context for every origin: building one loads the CA bundle (milliseconds).
            self._tls = httpx.create_ssl_context()
        return self._tls


def _request_bytes(request: httpx.Request) -> bytes:
    """Request line, headers and body; the body is always in memory (adapters build it)."""
    body = request.content
    lines = [b"%s %s HTTP/1.1" % (request.method.encode(), request.url.raw_path)]
    for name, value in request.headers.raw:
        if name.lower() == b"accept-encoding":
            continue  # answers come uncompressed: no decoder on this path
        lines.append(name + b": " + value)
    if body and "content-length" not in request.headers:
        lines.append(b"Content-Length: %d" % len(body))
    lines.append(b"Accept-Encoding: identity")
    return _CRLF.join(lines) + _CRLF + _CRLF + body


async def _read_response(
    reader: asyncio.StreamReader,
) -> tuple[int, list[tuple[bytes, bytes]], bytes, bool]:
    """(status, headers, body, whether the connection stays open) of one answer."""
    head = await reader.readuntil(_CRLF + _CRLF)
    status_line, *header_lines = head[:-4].split(_CRLF)
    version, _, rest = status_line.partition(b" ")
    if not version.startswith(b"HTTP/1."):
        raise ValueError(f"not an HTTP/1.x status line: {status_line[:80]!r}")
    status = int(rest[:3])
    headers: list[tuple[bytes, bytes]] = []
    length: int | None = None
    chunked = False
    keep_alive = version == b"HTTP/1.1"
    for line in header_lines:
        name, _, value = line.partition(b":")
        value = value.strip()
        headers.append((name, value))
        lowered = name.lower()
        if lowered == b"content-length":
            length = int(value)
        elif lowered == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif lowered == b"connection":
            keep_alive = value.lower() == b"keep-alive" or (
                keep_alive and value.lower() != b"close"
            )
    if chunked:
        body = await _read_chunked(reader)
        headers = [(n, v) for n, v in headers if n.lower() != b"transfer-encoding"]
    elif length is not None:
        body = await reader.readexactly(length)
    elif status in (204, 304) or 100 <= status < 200:
        body = b""
    else:
        body = await reader.read()  # delimited by the server closing the connection
        keep_alive = False
    return status, headers, body, keep_alive


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size_line = await reader.readuntil(_CRLF)
        size = int(size_line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            # Trailers, if any, end with an empty line.
            while await reader.readuntil(_CRLF) != _CRLF:
                pass
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)
