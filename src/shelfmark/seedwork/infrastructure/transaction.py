"""One database transaction as an async context: a connection and its transaction on enter,
rolled back (unless committed) and closed on exit. The base of every unit of work, and of
`writing`, the statements that need no unit of work.

The connection is closed here, not by SQLAlchemy's `async with engine.begin()`, which closes it
in a task of its own: on SQLite that kept the one write connection out of the pool for a turn
of the loop after each transaction, and every other writer waiting for it (the mail sender's
one transaction a message made the writers queue behind each other under load). On SQLite the
close cannot suspend (`inline_sqlite.py`), so no cancellation can cut it short either."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shelfmark.seedwork.infrastructure.giving_way import give_way


class SqlTransaction:
    connection: AsyncConnection

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def __aenter__(self) -> Self:
        # Give way once per transaction (once per step `in_steps`), before taking a
        # connection: on SQLite, where statements run inline, a task writing in a loop would
        # otherwise never let the loop run; yielding with the one write connection held made
        # every other writer wait for a whole turn of a busy loop (inline_sqlite.py).
        await give_way()
        self.connection = await self._engine.connect()
        try:
            await self.connection.begin()
        except BaseException:  # a BEGIN that failed or was cancelled waiting for the lock
            await self.connection.close()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self.connection.in_transaction():
                await self.connection.rollback()
        finally:
            await self.connection.close()


@asynccontextmanager
async def writing(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """As `engine.begin()`: a transaction committed at the end of the block, rolled back if it
    raises. On PostgreSQL it is `engine.begin()`, whose close (a round trip to the server) no
    cancellation can cut short; on SQLite a `SqlTransaction`."""
    if engine.dialect.name != "sqlite":
        async with engine.begin() as connection:
            yield connection
        return
    async with SqlTransaction(engine) as transaction:
        yield transaction.connection
        await transaction.connection.commit()
