"""One database transaction as an async context: a connection and its transaction on enter,
rolled back (unless committed) and closed on exit. The base of every unit of work."""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


class SqlTransaction:
    connection: AsyncConnection

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def __aenter__(self) -> Self:
        # Give way once per transaction, before taking a connection: on SQLite, where
        # statements run inline, a task writing in a loop would otherwise never let the loop
        # run; yielding with the one write connection held made every other writer wait for a
        # whole turn of a busy loop (inline_sqlite.py).
        await asyncio.sleep(0)
        self.connection = await self._engine.connect()
        await self.connection.begin()
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
