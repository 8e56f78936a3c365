"""The fault-injection TCP proxy, exercised against a tiny in-process echo server: forwarding,
cut and restore, then the runtime faults (latency, blackhole, reset)."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import AsyncIterator, Iterator

import pytest

from tests.support.tcp_proxy import TASK_NAME_PREFIX, TcpProxy

TIMEOUT = 5.0


class EchoServer:
    """Echoes every byte back; closes its side once the client has half-closed."""

    def __init__(self) -> None:
        self.port = 0
        self.connections_seen = 0
        self.connections_open = 0
        self._all_closed = asyncio.Event()
        self._all_closed.set()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        # Abort rather than cancel: the handlers then end normally on EOF.
        for writer in list(self._writers):
            writer.transport.abort()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def wait_all_closed(self) -> None:
        """Wait until the server has seen every proxied connection end."""
        async with asyncio.timeout(TIMEOUT):
            await self._all_closed.wait()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        self.connections_seen += 1
        self.connections_open += 1
        self._all_closed.clear()
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except OSError:
            writer.transport.abort()
        finally:
            writer.close()
            self._tasks.discard(task)
            self._writers.discard(writer)
            self.connections_open -= 1
            if self.connections_open == 0:
                self._all_closed.set()


@pytest.fixture(autouse=True)
def no_asyncio_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fail on anything asyncio logs at ERROR (a handler task ending badly, say)."""
    caplog.set_level(logging.ERROR, logger="asyncio")
    yield
    errors = [
        record.getMessage()
        for when in ("setup", "call", "teardown")
        for record in caplog.get_records(when)
        if record.name == "asyncio" and record.levelno >= logging.ERROR
    ]
    assert errors == []


@pytest.fixture
async def echo_server() -> AsyncIterator[EchoServer]:
    server = EchoServer()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def proxy(echo_server: EchoServer) -> AsyncIterator[TcpProxy]:
    async with TcpProxy("127.0.0.1", echo_server.port) as started:
        yield started


async def connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    async with asyncio.timeout(TIMEOUT):
        return await asyncio.open_connection("127.0.0.1", port)


async def roundtrip(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, payload: bytes
) -> bytes:
    writer.write(payload)
    await writer.drain()
    async with asyncio.timeout(TIMEOUT):
        return await reader.readexactly(len(payload))


async def assert_connection_dropped(reader: asyncio.StreamReader) -> None:
    """The peer closed or reset the connection: a read ends in EOF or a reset, never hangs."""
    async with asyncio.timeout(TIMEOUT):
        try:
            data = await reader.read(65536)
        except ConnectionResetError:
            return
    assert data == b""


async def assert_refused(port: int) -> None:
    with pytest.raises(ConnectionRefusedError):
        await connect(port)


def close(writer: asyncio.StreamWriter) -> None:
    writer.transport.abort()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def proxy_tasks() -> list[asyncio.Task[object]]:
    return [t for t in asyncio.all_tasks() if t.get_name().startswith(TASK_NAME_PREFIX)]


async def test_bytes_are_echoed_through_the_proxy(proxy: TcpProxy) -> None:
    reader, writer = await connect(proxy.port)
    try:
        assert await roundtrip(reader, writer, b"hello") == b"hello"
        assert await roundtrip(reader, writer, b"again") == b"again"
    finally:
        close(writer)
    assert proxy.connections_accepted == 1


async def test_a_large_payload_is_forwarded_intact(proxy: TcpProxy) -> None:
    payload = bytes(range(256)) * 4096  # 1 MiB, more than any socket buffer
    reader, writer = await connect(proxy.port)
    try:
        assert await roundtrip(reader, writer, payload) == payload
    finally:
        close(writer)


async def test_concurrent_connections_are_kept_apart(
    proxy: TcpProxy, echo_server: EchoServer
) -> None:
    connections = [await connect(proxy.port) for _ in range(5)]
    try:
        echoes = await asyncio.gather(
            *(roundtrip(r, w, f"client {i}".encode()) for i, (r, w) in enumerate(connections))
        )
        assert echoes == [f"client {i}".encode() for i in range(5)]
        assert proxy.connections_accepted == 5
        assert echo_server.connections_seen == 5
    finally:
        for _, writer in connections:
            close(writer)


async def test_a_half_close_is_forwarded_both_ways(proxy: TcpProxy) -> None:
    reader, writer = await connect(proxy.port)
    try:
        writer.write(b"last words")
        writer.write_eof()
        async with asyncio.timeout(TIMEOUT):
            # The echo server answers, then closes once it sees our EOF; the proxy relays both.
            assert await reader.read() == b"last words"
    finally:
        close(writer)


async def test_the_connection_ends_when_the_target_is_unreachable() -> None:
    async with TcpProxy("127.0.0.1", free_port()) as proxy:
        reader, writer = await connect(proxy.port)
        try:
            await assert_connection_dropped(reader)
        finally:
            close(writer)
        assert proxy.connections_accepted == 1


async def test_cut_drops_open_connections_on_both_sides(
    proxy: TcpProxy, echo_server: EchoServer
) -> None:
    reader, writer = await connect(proxy.port)
    try:
        assert await roundtrip(reader, writer, b"before") == b"before"
        assert not proxy.is_cut

        await proxy.cut()

        assert proxy.is_cut
        await assert_connection_dropped(reader)
        await echo_server.wait_all_closed()
        assert proxy.open_connections == 0
    finally:
        close(writer)


async def test_cut_refuses_new_connections(proxy: TcpProxy, echo_server: EchoServer) -> None:
    await proxy.cut()

    await assert_refused(proxy.port)
    assert proxy.connections_accepted == 0
    assert echo_server.connections_seen == 0


async def test_restore_accepts_again_on_the_same_port(
    proxy: TcpProxy, echo_server: EchoServer
) -> None:
    port = proxy.port
    first_reader, first_writer = await connect(port)
    try:
        assert await roundtrip(first_reader, first_writer, b"one") == b"one"
        await proxy.cut()
        await assert_connection_dropped(first_reader)
    finally:
        close(first_writer)

    await proxy.restore()

    assert not proxy.is_cut
    assert proxy.port == port
    reader, writer = await connect(port)
    try:
        assert await roundtrip(reader, writer, b"two") == b"two"
    finally:
        close(writer)
    assert proxy.connections_accepted == 2
    assert echo_server.connections_seen == 2


async def test_cut_and_restore_can_repeat(proxy: TcpProxy) -> None:
    for round_ in range(3):
        await proxy.cut()
        await proxy.cut()  # idempotent
        await assert_refused(proxy.port)
        await proxy.restore()
        await proxy.restore()  # idempotent
        reader, writer = await connect(proxy.port)
        try:
            payload = f"round {round_}".encode()
            assert await roundtrip(reader, writer, payload) == payload
        finally:
            close(writer)


async def test_an_explicit_listen_port_is_used(echo_server: EchoServer) -> None:
    port = free_port()
    async with TcpProxy("127.0.0.1", echo_server.port, listen_port=port) as proxy:
        assert proxy.port == port
        reader, writer = await connect(port)
        try:
            assert await roundtrip(reader, writer, b"fixed") == b"fixed"
        finally:
            close(writer)
        await proxy.cut()
        await assert_refused(port)
        await proxy.restore()
        reader, writer = await connect(port)
        try:
            assert await roundtrip(reader, writer, b"still") == b"still"
        finally:
            close(writer)


async def test_stop_closes_the_listener_and_every_connection(echo_server: EchoServer) -> None:
    proxy = TcpProxy("127.0.0.1", echo_server.port)
    await proxy.start()
    connections = [await connect(proxy.port) for _ in range(3)]
    try:
        for reader, writer in connections:
            assert await roundtrip(reader, writer, b"ping") == b"ping"

        await proxy.stop()

        for reader, _ in connections:
            await assert_connection_dropped(reader)
        await assert_refused(proxy.port)
        await echo_server.wait_all_closed()
        assert proxy.open_connections == 0
        assert proxy_tasks() == []
    finally:
        for _, writer in connections:
            close(writer)
    await proxy.stop()  # stopping twice is harmless


async def test_stop_while_cut_leaves_nothing_behind(echo_server: EchoServer) -> None:
    proxy = TcpProxy("127.0.0.1", echo_server.port)
    await proxy.start()
    await proxy.cut()

    await proxy.stop()

    assert not proxy.is_cut
    await assert_refused(proxy.port)
    assert proxy_tasks() == []


async def test_cut_before_start_is_an_error() -> None:
    proxy = TcpProxy("127.0.0.1", free_port())
    with pytest.raises(RuntimeError, match="not started"):
        await proxy.cut()


async def test_start_twice_is_an_error(proxy: TcpProxy) -> None:
    with pytest.raises(RuntimeError, match="already started"):
        await proxy.start()


#: How long a test watches a silent connection to see that nothing comes through.
SILENCE = 0.3


async def assert_silent(reader: asyncio.StreamReader) -> None:
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(SILENCE):
            await reader.read(1)


async def assert_reset(reader: asyncio.StreamReader) -> None:
    with pytest.raises(ConnectionResetError):
        async with asyncio.timeout(TIMEOUT):
            await reader.read(1)


async def test_latency_holds_each_direction(proxy: TcpProxy) -> None:
    reader, writer = await connect(proxy.port)
    try:
        proxy.set_latency(150, down_ms=100)
        started = time.monotonic()
        assert await roundtrip(reader, writer, b"slow") == b"slow"
        assert time.monotonic() - started >= 0.25
    finally:
        close(writer)


async def test_latency_off_forwards_at_once_again(proxy: TcpProxy) -> None:
    reader, writer = await connect(proxy.port)
    try:
        proxy.set_latency(0)
        proxy.set_latency(60_000)
        proxy.set_latency(0)
        assert await roundtrip(reader, writer, b"quick") == b"quick"  # within TIMEOUT
    finally:
        close(writer)


async def test_blackhole_silences_open_connections_until_cleared(proxy: TcpProxy) -> None:
    reader, writer = await connect(proxy.port)
    try:
        assert await roundtrip(reader, writer, b"before") == b"before"
        proxy.set_blackhole(True)
        writer.write(b"held")
        await writer.drain()
        await assert_silent(reader)

        proxy.set_blackhole(False)

        async with asyncio.timeout(TIMEOUT):
            assert await reader.readexactly(4) == b"held"
    finally:
        close(writer)


async def test_blackhole_accepts_new_connections_but_never_reaches_the_server(
    proxy: TcpProxy, echo_server: EchoServer
) -> None:
    proxy.set_blackhole(True)
    reader, writer = await connect(proxy.port)
    try:
        writer.write(b"anyone?")
        await writer.drain()
        await assert_silent(reader)
        assert proxy.connections_accepted == 1
        assert echo_server.connections_seen == 0

        proxy.set_blackhole(False)

        async with asyncio.timeout(TIMEOUT):
            assert await reader.readexactly(7) == b"anyone?"
        assert echo_server.connections_seen == 1
    finally:
        close(writer)


async def test_reset_resets_open_connections_on_both_sides(
    proxy: TcpProxy, echo_server: EchoServer
) -> None:
    reader, writer = await connect(proxy.port)
    try:
        assert await roundtrip(reader, writer, b"before") == b"before"

        await proxy.set_reset(True)

        await assert_reset(reader)
        await echo_server.wait_all_closed()
        assert proxy.open_connections == 0
    finally:
        close(writer)


async def test_reset_resets_new_connections_until_switched_off(
    proxy: TcpProxy, echo_server: EchoServer
) -> None:
    await proxy.set_reset(True)
    reader, writer = await connect(proxy.port)
    try:
        await assert_reset(reader)
    finally:
        close(writer)
    assert echo_server.connections_seen == 0

    await proxy.set_reset(False)

    reader, writer = await connect(proxy.port)
    try:
        assert await roundtrip(reader, writer, b"after") == b"after"
    finally:
        close(writer)


async def test_heal_ends_every_fault(proxy: TcpProxy) -> None:
    proxy.set_latency(60_000)
    proxy.set_blackhole(True)
    await proxy.set_reset(True)
    await proxy.cut()

    await proxy.heal()

    reader, writer = await connect(proxy.port)
    try:
        assert await roundtrip(reader, writer, b"healed") == b"healed"
    finally:
        close(writer)


async def test_stop_while_blackholed_leaves_nothing_behind(echo_server: EchoServer) -> None:
    proxy = TcpProxy("127.0.0.1", echo_server.port)
    await proxy.start()
    reader, writer = await connect(proxy.port)
    try:
        assert await roundtrip(reader, writer, b"ping") == b"ping"
        proxy.set_blackhole(True)
        writer.write(b"stuck")
        _, late_writer = await connect(proxy.port)

        await proxy.stop()

        assert proxy.open_connections == 0
        assert proxy_tasks() == []
        close(late_writer)
    finally:
        close(writer)
