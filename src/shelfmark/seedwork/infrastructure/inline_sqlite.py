"""SQLite for SQLAlchemy's asyncio layer, its statements run on the event loop's thread.

SQLAlchemy's asyncio engines need a driver that awaits; SQLite's own module (`sqlite3`) does
not, and its asyncio wrapper, aiosqlite, gives every connection a worker thread and hops to it
for each call. Measured here a hop cost about 0.4 ms of CPU per statement where SQLite answers
an indexed read in 10 to 40 µs, and under load each hop waited a whole turn of a busy event
loop. So this dialect is SQLAlchemy's own `sqlite3` dialect, declared async: each statement
runs inline and the loop waits the microseconds SQLite takes. (An earlier version ran
aiosqlite's connection without its thread; the adapter layers between SQLAlchemy and `sqlite3`
still cost about a quarter of a read's CPU and 10 µs per statement: docs/performance.md.)

The one wait that can be long is for the write lock that another process (a CLI command)
holds. The write engine's connections therefore have no busy timeout of their own: their
`BEGIN IMMEDIATE` fails at once when the lock is taken, and is tried again after an
`asyncio.sleep`, for up to `lock_wait_seconds`, so the loop goes on serving meanwhile and a
request cancelled while it waits stops waiting. Nothing else waits: once a transaction holds
the write lock its statements need no other, and a WAL reader does not wait for the writer.
Since nothing waits, a read gives way to the loop once before it takes its connection
(`reading.py`), and a write transaction before it takes the write connection
(`transaction.py`), so that a task reading or writing back to back cannot starve the others
(the background work, once per step: `giving_way.py`), and no task holds a connection while
the others run.

How the asyncio layer is met, in SQLAlchemy's terms: it runs each call of the synchronous
engine in a greenlet, which awaits on the loop's behalf through `await_`; an `execute` that
awaited nothing is taken for a synchronous driver and refused, so each statement awaits a
finished awaitable; and its results are buffered, every row read at execution (as the async
drivers do), so no statement stays open with rows unread: one left so (a loop over rows that
raised half-way, a RETURNING never read) would keep its read snapshot past the transaction's
end on a pooled connection, and make a COMMIT fail ("SQL statements in progress"). The
buffered cursor is then "soft closed" asynchronously, which here is nothing more to do.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from collections.abc import Callable, Generator
from typing import Any

from sqlalchemy import Uuid, pool
from sqlalchemy.dialects.sqlite.base import SQLiteExecutionContext
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import URL
from sqlalchemy.engine.cursor import FullyBufferedCursorFetchStrategy
from sqlalchemy.engine.interfaces import DBAPIConnection, DBAPICursor, ExecutionContext
from sqlalchemy.util.concurrency import await_

#: The name SQLAlchemy's registry knows this dialect by (`database.py` registers it).
DRIVER = "shelfmark_inline"
FIRST_LOCK_RETRY_SECONDS = 0.001
LONGEST_LOCK_RETRY_SECONDS = 0.05


class _Finished:
    """An awaitable that is already done: what each statement awaits."""

    def __await__(self) -> Generator[Any, None, None]:
        return
        yield  # a generator that stops at once


_FINISHED = _Finished()


class InlineCursor(sqlite3.Cursor):
    async def _async_soft_close(self) -> None:
        """Called after each statement, whose rows were all read at execution."""


class _BufferedExecutionContext(SQLiteExecutionContext):
    def post_exec(self) -> None:
        super().post_exec()  # type: ignore[no-untyped-call]
        cursor = self.cursor
        if cursor.description is not None:  # it returns rows: all of them, now
            self.cursor_fetch_strategy = FullyBufferedCursorFetchStrategy(
                cursor, initial_buffer=cursor.fetchall()
            )


class InlineConnection(sqlite3.Connection):
    def cursor(self, factory: Any = InlineCursor) -> Any:
        return super().cursor(factory)


_new_object = object.__new__
_set_slot = object.__setattr__
_UNKNOWN_SAFETY = uuid.SafeUUID.unknown


def uuid_from_hex(value: str | None) -> uuid.UUID | None:
    """A UUID as this dialect stores it (32 hex digits) read back with its number set directly:
    `uuid.UUID` first strips and checks any spelling of one (braces, dashes, "urn:uuid:"), 1.7
    against 0.7 µs, four times in each row of a list of loans. Any other text (a row written by
    hand with dashes, say) still goes through `uuid.UUID`."""
    if value is None:
        return None
    if len(value) != 32 or not value.isalnum():  # no sign, space or underscore for int()
        return uuid.UUID(value)
    read = _new_object(uuid.UUID)
    _set_slot(read, "int", int(value, 16))
    _set_slot(read, "is_safe", _UNKNOWN_SAFETY)
    return read


def _another_holds_the_lock(error: sqlite3.OperationalError) -> bool:
    """SQLITE_BUSY or one of its extended codes, but for SQLITE_BUSY_SNAPSHOT: a snapshot this
    connection still holds is older than the last commit, and no wait will change that."""
    code = error.sqlite_errorcode
    return code & 0xFF == sqlite3.SQLITE_BUSY and code != sqlite3.SQLITE_BUSY_SNAPSHOT


class _HexUuid(Uuid[Any]):
    def result_processor(self, dialect: Any, coltype: object) -> Callable[[Any], Any] | None:
        if self.as_uuid:
            return uuid_from_hex
        as_text: Callable[[Any], Any] | None = super().result_processor(dialect, coltype)  # type: ignore[no-untyped-call]
        return as_text


class InlineSQLiteDialect(SQLiteDialect_pysqlite):
    """`begin`: the statement that opens a transaction (`BEGIN IMMEDIATE` for the writer, which
    takes the lock up front). `lock_wait_seconds`: how long that waits, asynchronously, for
    another process's write lock (None: a `BEGIN` that does not take the lock never waits)."""

    driver = DRIVER
    is_async = True
    supports_statement_cache = True
    execution_ctx_cls = _BufferedExecutionContext
    colspecs = {**SQLiteDialect_pysqlite.colspecs, Uuid: _HexUuid}

    def __init__(
        self, begin: str = "BEGIN", lock_wait_seconds: float | None = None, **kwargs: Any
    ) -> None:  # not keyword-only: `create_engine` passes on only the arguments it sees here
        super().__init__(**kwargs)
        self._begin = begin
        self._lock_wait_seconds = lock_wait_seconds

    @classmethod
    def get_pool_class(cls, url: URL) -> type[pool.Pool]:
        if cls._is_url_file_db(url):
            return pool.AsyncAdaptedQueuePool
        return pool.StaticPool

    def create_connect_args(self, url: URL) -> Any:
        arguments, options = super().create_connect_args(url)
        return arguments, {**options, "factory": InlineConnection}

    def do_begin(self, dbapi_connection: DBAPIConnection) -> None:
        if self._lock_wait_seconds is None:
            dbapi_connection.cursor().execute(self._begin)
            return
        deadline = time.monotonic() + self._lock_wait_seconds
        pause = FIRST_LOCK_RETRY_SECONDS
        while True:
            try:
                dbapi_connection.cursor().execute(self._begin)
                return
            except sqlite3.OperationalError as error:
                if not _another_holds_the_lock(error) or time.monotonic() > deadline:
                    raise
            await_(asyncio.sleep(pause))
            pause = min(pause * 2, LONGEST_LOCK_RETRY_SECONDS)

    def do_execute(
        self,
        cursor: DBAPICursor,
        statement: str,
        parameters: Any,
        context: ExecutionContext | None = None,
    ) -> None:
        cursor.execute(statement, parameters)
        await_(_FINISHED)

    def do_execute_no_params(
        self, cursor: DBAPICursor, statement: str, context: ExecutionContext | None = None
    ) -> None:
        cursor.execute(statement)
        await_(_FINISHED)

    def do_executemany(
        self,
        cursor: DBAPICursor,
        statement: str,
        parameters: Any,
        context: ExecutionContext | None = None,
    ) -> None:
        cursor.executemany(statement, parameters)
        await_(_FINISHED)
