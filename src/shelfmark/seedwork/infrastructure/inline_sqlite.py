"""An aiosqlite connection that runs its calls on the caller's thread, the event loop's.

aiosqlite gives every connection a worker thread and hops to it for each call: a queue put,
a thread wake-up, the GIL handed over and back, then `call_soon_threadsafe` to wake the loop.
Measured here that costs about 0.4 ms of CPU per statement, where SQLite answers an indexed
read in 10 to 40 µs; and under load each hop waits a whole turn of a busy event loop, so a
write transaction of ten statements held the write lock for half a second while reads kept
the loop busy. So statements run inline: the loop waits the microseconds SQLite takes.

The one wait that can be long is for the write lock that another process (a CLI command)
holds. The write connection therefore has no busy timeout of its own (`lock_wait_seconds`
set): its `BEGIN` fails at once when the lock is taken, and is tried again after an
`asyncio.sleep`, for up to `lock_wait_seconds`, so the loop goes on serving meanwhile and a
request cancelled while it waits stops waiting. (A worker thread would keep the connection
busy after a cancellation, and closing it from the loop would then block.) Nothing else waits:
once a transaction holds the write lock its statements need no other, and a WAL reader does
not wait for the writer. Since nothing waits, a read gives way to the loop once before it takes
its connection (`reading.py`), and a write transaction before it takes the write connection
(`transaction.py`), so that a task reading or writing back to back cannot starve the others
(the background work, once per step: `giving_way.py`), and no task holds a connection while
the others run.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Generator
from typing import Any

import aiosqlite

FIRST_LOCK_RETRY_SECONDS = 0.001
LONGEST_LOCK_RETRY_SECONDS = 0.05


class _RunNow:
    """Stands in for aiosqlite's queue to its worker thread: runs each call as it is put.
    (SQLAlchemy's dialect also puts calls on that queue itself, to set the isolation level.)"""

    def put_nowait(self, item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as error:
            if future is None:
                raise
            future.set_exception(error)
        else:
            if future is not None:
                future.set_result(result)


class InlineConnection(aiosqlite.Connection):
    """aiosqlite's interface (what SQLAlchemy's aiosqlite dialect drives), without its thread."""

    def __init__(
        self,
        connector: Callable[[], sqlite3.Connection],
        iter_chunk_size: int,
        *,
        lock_wait_seconds: float | None,
    ) -> None:
        super().__init__(connector, iter_chunk_size)
        self._tx = _RunNow()  # type: ignore[assignment]
        self._lock_wait_seconds = lock_wait_seconds

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        if self._lock_wait_seconds is not None and _is_begin(args):
            return await self._begin(fn, *args, **kwargs)
        return fn(*args, **kwargs)

    async def _begin(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        assert self._lock_wait_seconds is not None
        deadline = time.monotonic() + self._lock_wait_seconds
        pause = FIRST_LOCK_RETRY_SECONDS
        while True:
            try:
                return fn(*args, **kwargs)
            except sqlite3.OperationalError as error:
                busy = error.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY  # or an extended code
                if not busy or time.monotonic() > deadline:
                    raise
            await asyncio.sleep(pause)
            pause = min(pause * 2, LONGEST_LOCK_RETRY_SECONDS)

    def __await__(self) -> Generator[Any, None, aiosqlite.Connection]:
        return self._connect().__await__()  # the base starts its thread here first


def _is_begin(args: tuple[Any, ...]) -> bool:
    return bool(args) and isinstance(args[0], str) and args[0].startswith("BEGIN")


def connect_inline(
    database: str,
    *,
    iter_chunk_size: int = 64,
    lock_wait_seconds: float | None = None,
    **kwargs: Any,
) -> InlineConnection:
    """SQLAlchemy's aiosqlite dialect calls this (as `async_creator_fn`) with its connect
    arguments, where it would have called `aiosqlite.connect`."""
    return InlineConnection(
        lambda: sqlite3.connect(database, **kwargs),
        iter_chunk_size,
        lock_wait_seconds=lock_wait_seconds,
    )
