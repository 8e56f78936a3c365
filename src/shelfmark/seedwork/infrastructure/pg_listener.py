"""Wakes a waiter when PostgreSQL sends a notification on a channel (LISTEN/NOTIFY).

A dedicated asyncpg connection straight to the server: LISTEN does not survive PgBouncer's
transaction pooling, and the waiter polls anyway, so a lost listener only adds latency.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.engine import make_url


def asyncpg_dsn(sqlalchemy_url: str) -> str:
    url = make_url(sqlalchemy_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


class PgListener:
    def __init__(self, sqlalchemy_url: str, channel: str, wake: asyncio.Event) -> None:
        self._dsn = asyncpg_dsn(sqlalchemy_url)
        self._channel = channel
        self._wake = wake
        self._connection: Any = None

    async def start(self) -> None:
        self._connection = await asyncpg.connect(self._dsn, timeout=5)
        await self._connection.add_listener(self._channel, self._notified)

    def _notified(self, *_: Any) -> None:
        self._wake.set()

    async def stop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close(timeout=2)
