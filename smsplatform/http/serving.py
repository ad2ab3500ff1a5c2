"""Serving several ASGI apps with uvicorn in one event loop, started and stopped together.

`make run` runs the control plane, the send tier's services and the supplier simulators in one
process; each keeps its own port, exactly as when it runs alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Generator
from dataclasses import dataclass

import uvicorn
from starlette.types import ASGIApp

log = logging.getLogger(__name__)


class _QuietServer(uvicorn.Server):
    """A uvicorn server that leaves signals to the group: one Ctrl-C stops every server."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


@dataclass(frozen=True)
class Served:
    """One app to serve: a name for logs, and where (port 0 picks a free port)."""

    name: str
    app: ASGIApp
    host: str = "127.0.0.1"
    port: int = 0


class ServerGroup:
    """Starts every app on its socket, reports the URLs, and stops them all on request."""

    def __init__(self, served: list[Served]) -> None:
        self._served = served
        self._servers: list[uvicorn.Server] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._sockets: list[socket.socket] = []
        self.urls: dict[str, str] = {}

    async def start(self) -> dict[str, str]:
        """Bind, serve, and wait until each app's lifespan has started; returns name → URL."""
        for item in self._served:
            # IPPROTO_TCP: asyncio sets TCP_NODELAY only on such sockets (else ~40 ms per reply).
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((item.host, item.port))
            self._sockets.append(sock)
            config = uvicorn.Config(
                item.app,
                lifespan="on",
                log_config=None,
                access_log=False,
                # The peer is the connection's address: uvicorn would otherwise take a client's
                # X-Forwarded-For from any local peer, and the receipt gateway's allow-lists
                # (and its logs) would see an address the client chose.
                proxy_headers=False,
                timeout_graceful_shutdown=5,
            )
            server = _QuietServer(config)
            self._servers.append(server)
            self._tasks.append(asyncio.create_task(server.serve(sockets=[sock]), name=item.name))
            self.urls[item.name] = f"http://{item.host}:{sock.getsockname()[1]}"
            while not server.started:
                task = self._tasks[-1]
                if task.done():
                    task.result()
                    raise RuntimeError(f"{item.name} stopped during start-up")
                await asyncio.sleep(0.01)
            log.info("serving name=%s url=%s", item.name, self.urls[item.name])
        return self.urls

    async def stop(self) -> None:
        """Stop in reverse order of start: front doors first, so nothing new comes in.

        Safe after a start that failed part-way: only the servers that were started are stopped,
        and one that crashed is logged without keeping the others running.
        """
        started = self._served[: len(self._servers)]
        for server, task, item in zip(
            reversed(self._servers), reversed(self._tasks), reversed(started), strict=True
        ):
            server.should_exit = True
            try:
                await task
            except Exception:
                log.exception("stop failed name=%s", item.name)
            else:
                log.info("stopped name=%s", item.name)
        self._servers, self._tasks = [], []
        for sock in self._sockets:
            sock.close()
        self._sockets = []

    async def run_until_signalled(self) -> None:
        """Serve until SIGINT or SIGTERM, then stop every server cleanly."""
        try:
            await wait_for_signal()
        finally:
            await self.stop()


async def wait_for_signal() -> int:
    """Return the first SIGINT or SIGTERM this process gets (its number) from now on."""
    received: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    loop = asyncio.get_running_loop()

    def note(signum: int) -> None:
        if not received.done():
            received.set_result(signum)

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, note, signum)
    try:
        return await received
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
