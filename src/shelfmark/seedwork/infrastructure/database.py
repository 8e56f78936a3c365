"""Engines for the write model and the read side, configured per backend."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from shelfmark.seedwork.infrastructure.replica import ReplicaEngine

SQLITE_BUSY_TIMEOUT_MS = 30_000


@dataclass(frozen=True)
class Engines:
    """`write` runs commands; `read` runs queries (the same engine unless the backend gains
    from a second one: SQLite reads must not take the write lock; PostgreSQL with a read
    replica reads there, through a `ReplicaEngine`)."""

    write: AsyncEngine
    read: AsyncEngine

    async def dispose(self) -> None:
        await self.write.dispose()
        if self.read is not self.write:
            await self.read.dispose()


def create_engines(
    url: str, read_url: str | None = None, pool_size: int = 10, echo: bool = False
) -> Engines:
    """`read_url`, a streaming replica of `url` (PostgreSQL only), takes the reads that may
    go there (see `replica.ReplicaEngine`)."""
    if make_url(url).get_backend_name() == "sqlite":
        if read_url:
            raise ValueError("a read replica (READ_DATABASE_URL) needs PostgreSQL")
        return Engines(
            write=_sqlite_engine(url, immediate=True, echo=echo),
            read=_sqlite_engine(url, immediate=False, echo=echo),
        )
    engine = _postgres_engine(url, pool_size=pool_size, echo=echo)
    if not read_url:
        return Engines(write=engine, read=engine)
    if make_url(read_url).get_backend_name() != "postgresql":
        raise ValueError("the read replica (READ_DATABASE_URL) must be PostgreSQL too")
    replica = _postgres_engine(read_url, pool_size=pool_size, echo=echo)
    return Engines(write=engine, read=ReplicaEngine(replica, primary=engine))


def _postgres_engine(url: str, *, pool_size: int, echo: bool) -> AsyncEngine:
    return create_async_engine(
        url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True, echo=echo
    )


def _sqlite_engine(url: str, *, immediate: bool, echo: bool) -> AsyncEngine:
    """SQLite in WAL mode; write transactions take the write lock up front (BEGIN IMMEDIATE)
    so two writers queue on the busy timeout instead of failing on a lock upgrade."""
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, echo=echo, pool_size=5, max_overflow=10)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql(begin)

    return engine
