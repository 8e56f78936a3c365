"""The embedded engines: statements run on the event loop's thread; one writer connection that
writers queue for in arrival order; readers that never wait for the writer; and a wait for
another process's write lock that does not stop the loop."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.exc import OperationalError

from shelfmark.seedwork.infrastructure import database, inline_sqlite
from shelfmark.seedwork.infrastructure.database import Engines, create_engines
from shelfmark.seedwork.infrastructure.inline_sqlite import InlineConnection
from shelfmark.seedwork.infrastructure.job_runs import job_runs
from shelfmark.seedwork.infrastructure.reading import reading
from shelfmark.seedwork.infrastructure.transaction import writing
from tests.support.databases import sqlite_copy


async def test_writers_take_turns_in_the_order_they_asked(sqlite_engines: Engines) -> None:
    async with sqlite_engines.write.begin() as connection:
        await connection.execute(text("CREATE TABLE turns (n INTEGER)"))
    order: list[int] = []

    async def write(n: int) -> None:
        async with sqlite_engines.write.begin() as connection:
            await connection.execute(text("INSERT INTO turns VALUES (:n)"), {"n": n})
            await asyncio.sleep(0)  # let every other writer ask for the lock meanwhile
            order.append(n)

    await asyncio.gather(*(write(n) for n in range(20)))

    assert order == list(range(20))
    async with sqlite_engines.read.connect() as connection:
        stored = await connection.scalars(text("SELECT n FROM turns ORDER BY rowid"))
        assert list(stored) == list(range(20))


async def test_a_read_runs_beside_an_open_write_and_sees_only_what_was_committed(
    sqlite_engines: Engines,
) -> None:
    async with sqlite_engines.write.begin() as writer:
        await writer.execute(text("CREATE TABLE shelf (title TEXT)"))
    async with sqlite_engines.write.begin() as writer:
        await writer.execute(text("INSERT INTO shelf VALUES ('committed')"))
    async with sqlite_engines.write.begin() as writer:
        await writer.execute(text("INSERT INTO shelf VALUES ('not yet')"))
        async with sqlite_engines.read.connect() as reader:
            seen = await reader.scalars(text("SELECT title FROM shelf"))
            assert list(seen) == ["committed"]


async def test_reads_need_no_thread_of_their_own(sqlite_engines: Engines) -> None:
    threads = threading.active_count()
    async with sqlite_engines.read.connect() as connection:
        raw = await connection.get_raw_connection()
        assert isinstance(raw.driver_connection, InlineConnection)
        await connection.execute(select(job_runs))
        assert threading.active_count() == threads


@pytest.mark.parametrize("scheme", ["sqlite", "sqlite+aiosqlite", "sqlite+pysqlite"])
async def test_any_sqlite_url_runs_on_the_inline_engine(scheme: str, tmp_path: Path) -> None:
    """Older settings name aiosqlite, which is no longer used: the driver is not read."""
    engines = create_engines(f"{scheme}:///{tmp_path / 'any.db'}")
    try:
        assert engines.write.dialect.driver == engines.read.dialect.driver == inline_sqlite.DRIVER
        async with engines.write.begin() as connection:
            await connection.execute(text("CREATE TABLE shelf (title TEXT)"))
            await connection.execute(text("INSERT INTO shelf VALUES ('Dune')"))
        async with engines.read.connect() as connection:
            assert await connection.scalar(text("SELECT title FROM shelf")) == "Dune"
    finally:
        await engines.dispose()


async def test_a_failed_read_raises_and_leaves_its_connection_usable(
    sqlite_engines: Engines,
) -> None:
    async with sqlite_engines.read.connect() as connection:
        with pytest.raises(OperationalError, match="no such table"):
            await connection.execute(text("SELECT * FROM no_such_table"))
        await connection.rollback()
        assert await connection.scalar(text("SELECT 1")) == 1


async def test_a_read_left_half_way_holds_no_snapshot_after_its_transaction(
    sqlite_engines: Engines,
) -> None:
    """Every row is read at execution: a loop over rows that raised half-way leaves no open
    statement keeping its snapshot on the pooled connection, so the next read sees later
    commits and a checkpoint can take the whole log."""
    async with sqlite_engines.write.begin() as writer:
        await writer.execute(text("CREATE TABLE shelf (n INTEGER)"))
        await writer.execute(text("INSERT INTO shelf VALUES (1), (2), (3)"))
    kept = []
    async with reading(sqlite_engines.read) as connection:
        result = await connection.execute(text("SELECT n FROM shelf"))
        kept.append(next(iter(result)))  # the result itself still alive, its rows unread
        await connection.rollback()
        async with sqlite_engines.write.begin() as writer:
            await writer.execute(text("INSERT INTO shelf VALUES (4)"))
        other = sqlite3.connect(str(sqlite_engines.write.url.database))
        try:
            busy, _, _ = other.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            other.close()
        assert busy == 0
        assert await connection.scalar(text("SELECT count(*) FROM shelf")) == 4


async def test_a_commit_with_returning_rows_unread_commits(sqlite_engines: Engines) -> None:
    async with sqlite_engines.write.begin() as writer:
        await writer.execute(text("CREATE TABLE shelf (n INTEGER)"))
        await writer.execute(text("INSERT INTO shelf VALUES (1), (2)"))
    async with writing(sqlite_engines.write) as connection:
        result = await connection.execute(text("UPDATE shelf SET n = n + 10 RETURNING n"))
        assert result.fetchone() is not None  # one row read, the other not, the result alive
    async with writing(sqlite_engines.write) as connection:  # the writer is free again
        await connection.execute(text("INSERT INTO shelf VALUES (3)"))
    async with sqlite_engines.read.connect() as connection:
        stored = await connection.scalars(text("SELECT n FROM shelf ORDER BY n"))
        assert list(stored) == [3, 11, 12]


def test_a_snapshot_older_than_the_last_commit_is_no_lock_to_wait_for() -> None:
    """`BEGIN` fails with SQLITE_BUSY_SNAPSHOT when this connection still holds an old
    snapshot; waiting cannot change that, so it is raised at once (here, outside any event
    loop, a wait would fail otherwise)."""
    dialect = inline_sqlite.InlineSQLiteDialect(begin="BEGIN IMMEDIATE", lock_wait_seconds=30)
    stale = sqlite3.OperationalError("database is locked")
    stale.sqlite_errorcode = sqlite3.SQLITE_BUSY_SNAPSHOT  # type: ignore[attr-defined]

    class Connection:
        def cursor(self) -> Connection:
            return self

        def execute(self, statement: str) -> None:
            raise stale

    with pytest.raises(sqlite3.OperationalError) as raised:
        dialect.do_begin(Connection())  # type: ignore[arg-type]
    assert raised.value is stale


async def read_one(engines: Engines) -> None:
    async with reading(engines.read) as connection:
        assert await connection.scalar(text("SELECT 1")) == 1


async def test_readers_in_flight_together_take_one_connection(sqlite_engines: Engines) -> None:
    """A reader gives way before it takes a connection, not while it holds one: 40 readers in
    flight at once hold one between them, where each holding one across a turn of the loop
    opened as many as the pool allows (and closed the extra ones again)."""
    await read_one(sqlite_engines)
    opened: list[object] = []
    event.listen(sqlite_engines.read.sync_engine, "connect", lambda *_: opened.append(1))

    await asyncio.gather(*(read_one(sqlite_engines) for _ in range(40)))

    assert opened == []


async def test_a_task_reading_in_a_loop_lets_the_others_run(sqlite_engines: Engines) -> None:
    """Statements run inline, so only the read's own giving way lets the other task in."""
    ran: list[str] = []

    async def reader() -> None:
        for _ in range(3):
            await read_one(sqlite_engines)
            ran.append("read")

    async def other() -> None:
        for _ in range(3):
            ran.append("other")
            await asyncio.sleep(0)

    await asyncio.gather(reader(), other())

    assert ran == ["other", "read", "other", "read", "other", "read"]


async def write_one(engines: Engines) -> None:
    async with engines.write.begin() as connection:
        await connection.execute(select(job_runs))


async def write_one_of_ours(engines: Engines) -> None:
    async with writing(engines.write) as connection:
        await connection.execute(select(job_runs))


async def writer_waiting_for_another_process(
    engines: Engines,
) -> tuple[sqlite3.Connection, asyncio.Task[None]]:
    """Another connection (as another process would) holds the write lock; a writer of ours
    is started and the loop turned until it waits for the lock."""
    other_process = sqlite3.connect(str(engines.write.url.database), isolation_level=None)
    other_process.execute("BEGIN IMMEDIATE")
    writer = asyncio.create_task(write_one(engines))
    for _ in range(100):
        await asyncio.sleep(0)  # the loop keeps turning while the writer waits for the lock
    return other_process, writer


def release(other_process: sqlite3.Connection) -> None:
    other_process.execute("COMMIT")
    other_process.close()


async def test_a_writer_waits_for_another_process_lock_without_stopping_the_loop(
    sqlite_engines: Engines,
) -> None:
    other_process, writer = await writer_waiting_for_another_process(sqlite_engines)
    assert not writer.done()
    release(other_process)
    await asyncio.wait_for(writer, timeout=10)


async def test_a_writer_cancelled_while_it_waits_for_the_lock_stops_waiting_at_once(
    sqlite_engines: Engines,
) -> None:
    other_process, writer = await writer_waiting_for_another_process(sqlite_engines)
    started = time.monotonic()
    writer.cancel()  # as the request budget does
    with pytest.raises(asyncio.CancelledError):
        await writer
    assert time.monotonic() - started < 5  # not the rest of the 30 s busy timeout
    release(other_process)
    await asyncio.wait_for(write_one(sqlite_engines), timeout=10)  # the writer still works


async def test_a_transaction_whose_wait_for_the_lock_runs_out_gives_its_connection_back(
    sqlite_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(database, "SQLITE_BUSY_TIMEOUT_MS", 200)
    engines = sqlite_copy(sqlite_template, tmp_path)
    kept: list[BaseException] = []
    try:
        other_process = sqlite3.connect(str(engines.write.url.database), isolation_level=None)
        other_process.execute("BEGIN IMMEDIATE")
        try:
            await write_one_of_ours(engines)
        except OperationalError as error:
            kept.append(error)  # as the relay keeps its error through its backoff
        release(other_process)

        assert kept  # its traceback holds the transaction, which must not hold the connection
        assert engines.write.pool.checkedout() == 0  # type: ignore[attr-defined]
        await asyncio.wait_for(write_one_of_ours(engines), timeout=5)
    finally:
        await engines.dispose()
