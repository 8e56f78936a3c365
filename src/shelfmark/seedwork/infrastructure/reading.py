"""One read connection shared by the readers a request calls one after another.

A reader opens its own connection (`reading(engine)`), unless the code around it opened one for
several reads (`one_read_connection(engine)`): the book details read the catalogue and lending
through one connection instead of three check-outs, each with its own `BEGIN` and rollback (on
SQLite most of the cost of an uncached read; there the three reads also share one snapshot).

The shared connection is this task's (a context variable): never run reads concurrently inside
`one_read_connection`, since one connection answers one statement at a time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

_shared: ContextVar[tuple[AsyncEngine, AsyncConnection] | None] = ContextVar(
    "shelfmark_shared_read_connection", default=None
)


@asynccontextmanager
async def reading(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection of `engine`: the one `one_read_connection(engine)` holds around this call,
    else a new one, closed afterwards."""
    shared = _shared.get()
    if shared is not None and shared[0] is engine:
        yield shared[1]
        return
    async with engine.connect() as connection:
        yield connection


@asynccontextmanager
async def one_read_connection(engine: AsyncEngine) -> AsyncIterator[None]:
    """Within this block, every `reading(engine)` of this task uses one connection."""
    async with reading(engine) as connection:
        token = _shared.set((engine, connection))
        try:
            yield
        finally:
            _shared.reset(token)
