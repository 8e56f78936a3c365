"""A TCP proxy that can go deaf one way: after `mute()`, what its clients send is read and thrown
away while what the server sends still reaches them. Put between a consumer and RabbitMQ, it lets
the consumer receive deliveries and apply them while its acks never arrive: the broker sees them
unacknowledged until the consumer's connection closes, and then delivers them again.

A muted connection has lost bytes, so it is never unmuted; new connections are muted too. When
either side closes, both are closed."""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType
from typing import Self

_CHUNK = 64 * 1024


class MutingProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.port = 0
        self.swallowed_bytes = 0
        self._muted = False
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    def mute(self) -> None:
        self._muted = True

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _handle(self, client_in: asyncio.StreamReader, client: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        writers = [client]
        try:
            server_in, server = await asyncio.open_connection(self.target_host, self.target_port)
            writers.append(server)
            pumps = [
                asyncio.create_task(self._pump(client_in, server, upstream=True)),
                asyncio.create_task(self._pump(server_in, client, upstream=False)),
            ]
            try:
                # One direction ending (a side closed or broke) ends the connection.
                await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for pump in pumps:
                    pump.cancel()
                await asyncio.gather(*pumps, return_exceptions=True)
        except (OSError, asyncio.CancelledError):
            pass  # the target is unreachable, or the proxy is closing: drop the client
        finally:
            for writer in writers:
                writer.transport.abort()
            self._connections.discard(task)

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, upstream: bool
    ) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(_CHUNK):
                if upstream and self._muted:
                    self.swallowed_bytes += len(data)
                    continue
                writer.write(data)
                await writer.drain()
