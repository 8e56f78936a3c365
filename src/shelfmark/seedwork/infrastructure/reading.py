"""One read connection shared by the readers a request calls one after another.

A reader opens its own connection (`reading(engine)`), unless the code around it opened one for
several reads (`one_read_connection(engine)`): the book details read the catalogue and lending
through one connection instead of three check-outs, each with its own `BEGIN` and rollback (on
SQLite most of the cost of an uncached read; there the three reads also share one snapshot).

The shared connection belongs to the task that opened the block: a task started inside it (a
single-flight cache load, say) opens its own, since one connection answers one statement at a
time and the block's end closes it whatever such a task is doing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shelfmark.seedwork.infrastructure.giving_way import give_way

_shared: ContextVar[tuple[AsyncEngine, AsyncConnection, asyncio.Task[Any] | None] | None] = (
    ContextVar("shelfmark_shared_read_connection", default=None)
)


@asynccontextmanager
async def reading(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection of `engine`: the one `one_read_connection(engine)` holds around this call,
    else a new one, closed afterwards."""
    shared = _shared.get()
    if shared is not None and shared[0] is engine and shared[2] is asyncio.current_task():
        yield shared[1]
        return
    if engine.dialect.name != "sqlite":
        async with engine.connect() as connection:  # closed in a task of its own, shielded
            yield connection
        return
    # SQLite's statements run inline (inline_sqlite.py), so nothing makes a reader give way by
    # itself. It gives way here, before it takes a connection: given way with the connection
    # held (at its `BEGIN`), every request in flight held one across a whole turn of the loop,
    # more than the pool keeps, so under load connections were opened (each preparing its
    # statements anew) and closed again for most reads. The close runs to its end without
    # suspending, so no cancellation can cut it short, and it needs no task of its own, whose
    # start would cost this task a turn of the loop.
    await give_way()
    connection = await engine.connect()
    try:
        yield connection
    finally:
        await connection.close()


@asynccontextmanager
async def one_read_connection(engine: AsyncEngine) -> AsyncIterator[None]:
    """Within this block, every `reading(engine)` of this task uses one connection."""
    async with reading(engine) as connection:
        token = _shared.set((engine, connection, asyncio.current_task()))
        try:
            yield
        finally:
            _shared.reset(token)
