"""A TCP proxy that fault tests put between the application and a real server.

The proxy listens on ``127.0.0.1`` and forwards every connection to a target server (RabbitMQ,
SMTP, PostgreSQL...). A test can :meth:`TcpProxy.cut` the link, which aborts every open
connection on both sides and refuses new ones, and :meth:`TcpProxy.restore` it on the same
port, all without touching the shared server itself.
"""

from __future__ import annotations

import asyncio
import functools
from types import TracebackType
from typing import Self

_CHUNK = 64 * 1024
TASK_NAME_PREFIX = "tcp-proxy"


class TcpProxy:
    """Forwards 127.0.0.1:<port> to target_host:target_port; `cut()` drops every open connection
    and refuses new ones until `restore()`."""

    def __init__(self, target_host: str, target_port: int, *, listen_port: int = 0) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.port = listen_port
        self.connections_accepted = 0
        self._server: asyncio.Server | None = None
        # Bumped on every cut/stop, so a connection the old listener accepted in that same
        # instant is dropped instead of being forwarded.
        self._generation = 0
        self._cut = False
        self._handlers: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def is_cut(self) -> bool:
        return self._cut

    @property
    def open_connections(self) -> int:
        """Client connections currently being handled (forwarded or being set up)."""
        return len(self._handlers)

    async def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("TcpProxy is already started")
        self._cut = False
        await self._listen()

    async def stop(self) -> None:
        """Close the listener and every connection; safe to call more than once."""
        self._cut = False
        await self._shut_down()

    async def cut(self) -> None:
        """Abort every open connection (both sides) and refuse new connections."""
        if self._server is None and not self._cut:
            raise RuntimeError("TcpProxy is not started")
        self._cut = True
        await self._shut_down()

    async def restore(self) -> None:
        """Accept connections again, on the same port as before the cut."""
        if not self._cut:
            return
        await self._listen()
        self._cut = False

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(
            functools.partial(self._handle, self._generation),
            "127.0.0.1",
            self.port,
            reuse_address=True,
        )
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def _shut_down(self) -> None:
        self._generation += 1
        server, self._server = self._server, None
        if server is not None:
            # Closes the listening socket right away: from here on connects are refused.
            server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        handlers = list(self._handlers)
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        if server is not None:
            await server.wait_closed()

    async def _handle(
        self,
        generation: int,
        client_reader: asyncio.StreamReader,
        client_writer: asyncio.StreamWriter,
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        task.set_name(f"{TASK_NAME_PREFIX}-connection")
        if generation != self._generation:
            # Accepted in the same loop iteration as a cut/stop: drop it at once.
            client_writer.transport.abort()
            return
        self.connections_accepted += 1
        self._handlers.add(task)
        self._writers.add(client_writer)
        writers = [client_writer]
        clean = False
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                self.target_host, self.target_port
            )
            writers.append(upstream_writer)
            self._writers.add(upstream_writer)
            pumps = [
                asyncio.create_task(
                    self._pump(client_reader, upstream_writer, client_writer),
                    name=f"{TASK_NAME_PREFIX}-pump-up",
                ),
                asyncio.create_task(
                    self._pump(upstream_reader, client_writer, upstream_writer),
                    name=f"{TASK_NAME_PREFIX}-pump-down",
                ),
            ]
            try:
                results = await asyncio.gather(*pumps)
            finally:
                for pump in pumps:
                    pump.cancel()
                await asyncio.gather(*pumps, return_exceptions=True)
            clean = all(results)
        except OSError:
            pass  # the target is unreachable: drop the client
        except asyncio.CancelledError:
            # Only _shut_down cancels a handler. Ending normally matters: on Python 3.11 the
            # start_server done-callback calls task.exception(), which logs a cancelled task.
            pass
        finally:
            for writer in writers:
                if clean:
                    writer.close()
                else:
                    writer.transport.abort()
                self._writers.discard(writer)
            self._handlers.discard(task)

    @staticmethod
    async def _pump(
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        source_writer: asyncio.StreamWriter,
    ) -> bool:
        """Copy ``reader`` to ``writer`` until EOF; return False when the link broke instead."""
        try:
            while data := await reader.read(_CHUNK):
                writer.write(data)
                await writer.drain()
            if writer.can_write_eof() and not writer.transport.is_closing():
                writer.write_eof()
        except OSError:
            # One side broke: tear down both so the peer of the other side notices too.
            writer.transport.abort()
            source_writer.transport.abort()
            return False
        return True
