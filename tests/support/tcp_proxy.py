"""A TCP proxy that fault tests put between the application and a real server.

The proxy listens on ``127.0.0.1`` and forwards every connection to a target server (RabbitMQ,
SMTP, PostgreSQL...). Faults are switched on and off at runtime, without touching the shared
server itself:

- :meth:`TcpProxy.cut` aborts every open connection and refuses new ones until
  :meth:`TcpProxy.restore` listens again on the same port;
- :meth:`TcpProxy.set_latency` holds each chunk of data for some milliseconds before forwarding
  it, per direction (like toxiproxy's latency toxic: chunks queue behind each other);
- :meth:`TcpProxy.set_blackhole` stops forwarding: open connections go silent, new ones are
  accepted but never reach the server. Clearing it lets the held data through, as when a
  network partition heals before TCP gives up;
- :meth:`TcpProxy.set_reset` resets (TCP RST) every open connection, and each new one as soon
  as it is accepted;
- :meth:`TcpProxy.heal` ends every fault at once.
"""

from __future__ import annotations

import asyncio
import functools
import socket
import struct
from collections.abc import Callable
from types import TracebackType
from typing import Literal, Self

_CHUNK = 64 * 1024
TASK_NAME_PREFIX = "tcp-proxy"
#: SO_LINGER on with a zero timeout: closing the socket sends RST instead of FIN.
_LINGER_ZERO = struct.pack("ii", 1, 0)

Direction = Literal["up", "down"]
_Drop = Callable[[asyncio.StreamWriter], None]


class TcpProxy:
    """Forwards 127.0.0.1:<port> to target_host:target_port, with faults on command (see the
    module docstring)."""

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
        self._resetting = False
        self._delay: dict[Direction, float] = {"up": 0.0, "down": 0.0}
        self._flowing = asyncio.Event()
        self._flowing.set()
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

    def set_latency(self, up_ms: float, down_ms: float | None = None) -> None:
        """Hold each chunk `up_ms` on its way to the server and `down_ms` (default: the same)
        on its way back; 0 forwards at once again. Applies to the chunks read from now on."""
        self._delay = {"up": up_ms / 1000, "down": (up_ms if down_ms is None else down_ms) / 1000}

    def set_blackhole(self, on: bool) -> None:
        """Forward nothing while on (new connections are accepted and kept, never connected
        to the server); off lets everything held go through."""
        if on:
            self._flowing.clear()
        else:
            self._flowing.set()

    async def set_reset(self, on: bool) -> None:
        """While on, reset every open connection and each new one once it is accepted."""
        self._resetting = on
        if on:
            await self._drop_connections(_reset)

    async def heal(self) -> None:
        """End every fault: no latency, no blackhole, no resets, not cut."""
        self.set_latency(0)
        self.set_blackhole(False)
        await self.set_reset(False)
        await self.restore()

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
        await self._drop_connections(_abort)
        if server is not None:
            await server.wait_closed()

    async def _drop_connections(self, drop: _Drop) -> None:
        for writer in list(self._writers):
            drop(writer)
        handlers = list(self._handlers)
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)

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
            _abort(client_writer)
            return
        self.connections_accepted += 1
        if self._resetting:
            _reset(client_writer)
            return
        self._handlers.add(task)
        self._writers.add(client_writer)
        writers = [client_writer]
        clean = False
        try:
            await self._flowing.wait()
            upstream_reader, upstream_writer = await asyncio.open_connection(
                self.target_host, self.target_port
            )
            writers.append(upstream_writer)
            self._writers.add(upstream_writer)
            pumps = [
                asyncio.create_task(
                    self._pump(client_reader, upstream_writer, client_writer, "up"),
                    name=f"{TASK_NAME_PREFIX}-pump-up",
                ),
                asyncio.create_task(
                    self._pump(upstream_reader, client_writer, upstream_writer, "down"),
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
            # Only _drop_connections cancels a handler. Ending normally matters: on Python 3.11
            # the start_server done-callback calls task.exception(), which logs a cancelled task.
            pass
        finally:
            for writer in writers:
                if clean:
                    writer.close()
                else:
                    _abort(writer)
                self._writers.discard(writer)
            self._handlers.discard(task)

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        source_writer: asyncio.StreamWriter,
        direction: Direction,
    ) -> bool:
        """Copy ``reader`` to ``writer`` until EOF, each chunk held for the direction's latency
        and while blackholed; return False when the link broke instead."""
        try:
            while data := await reader.read(_CHUNK):
                if delay := self._delay[direction]:
                    await asyncio.sleep(delay)
                await self._flowing.wait()
                writer.write(data)
                await writer.drain()
            await self._flowing.wait()
            if writer.can_write_eof() and not writer.transport.is_closing():
                writer.write_eof()
        except OSError:
            # One side broke: tear down both so the peer of the other side notices too.
            _abort(writer)
            _abort(source_writer)
            return False
        return True


def _abort(writer: asyncio.StreamWriter) -> None:
    writer.transport.abort()


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST: the peer's next read or write fails with ECONNRESET."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_ZERO)
    writer.transport.abort()
