"""Engines for the write model and the read side, configured per backend."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

from sqlalchemy import event
from sqlalchemy.dialects import registry
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from shelfmark.seedwork.infrastructure import inline_sqlite
from shelfmark.seedwork.infrastructure.replica import ReplicaEngine

SQLITE_BUSY_TIMEOUT_MS = 30_000

registry.register(
    f"sqlite.{inline_sqlite.DRIVER}",
    inline_sqlite.__name__,
    inline_sqlite.InlineSQLiteDialect.__name__,
)


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
    url: str,
    read_url: str | None = None,
    pool_size: int = 10,
    echo: bool = False,
    pgbouncer: bool = False,
    *,
    pre_ping: bool | None = None,
    connect_timeout: float = 5.0,
    statement_timeout: float = 30.0,
) -> Engines:
    """`read_url`, a streaming replica of `url` (PostgreSQL only), takes the reads that may
    go there (see `replica.ReplicaEngine`). `pgbouncer`: `url` is a PgBouncer in transaction
    pooling mode; `pre_ping`: whether pooled connections are pinged before use, by default
    only when they go straight to PostgreSQL (see `_postgres_engine`). On PostgreSQL,
    `connect_timeout` bounds a connect and a wait for a pooled connection, `statement_timeout`
    each statement (client-side, so a server that stopped answering cannot hold a caller)."""
    if make_url(url).get_backend_name() == "sqlite":
        if read_url:
            raise ValueError("a read replica (READ_DATABASE_URL) needs PostgreSQL")
        return Engines(
            write=_sqlite_engine(url, immediate=True, echo=echo),
            read=_sqlite_engine(url, immediate=False, echo=echo),
        )
    postgres_engine = functools.partial(
        _postgres_engine,
        pool_size=pool_size,
        echo=echo,
        connect_timeout=connect_timeout,
        statement_timeout=statement_timeout,
    )
    engine = postgres_engine(url, pgbouncer=pgbouncer, pre_ping=pre_ping)
    if not read_url:
        return Engines(write=engine, read=engine)
    if make_url(read_url).get_backend_name() != "postgresql":
        raise ValueError("the read replica (READ_DATABASE_URL) must be PostgreSQL too")
    replica = postgres_engine(read_url, pre_ping=pre_ping)
    return Engines(write=engine, read=ReplicaEngine(replica, primary=engine))


def _postgres_engine(
    url: str,
    *,
    pool_size: int,
    echo: bool,
    connect_timeout: float,
    statement_timeout: float,
    pgbouncer: bool = False,
    pre_ping: bool | None = None,
) -> AsyncEngine:
    """Behind PgBouncer's transaction pooling, consecutive transactions of one client connection
    run on different server connections: a prepared statement cached by name on one is missing
    on the next, and two clients' `__asyncpg_stmt_1__` collide. So no cache in asyncpg or in
    SQLAlchemy, and every statement gets a unique name (SQLAlchemy's documented recipe).

    Pooled connections are pinged before use only when they go straight to PostgreSQL, whose
    restart breaks them. Behind PgBouncer a client connection outlives PostgreSQL's restarts
    (PgBouncer checks and replaces its own server connections), and the ping (a `BEGIN`, the
    statement `;` prepared and run, a `ROLLBACK`: four round trips per checkout) was half the
    transactions PgBouncer passed on for the mix. What does break one (PgBouncer restarted, its
    `query_wait_timeout`, a network reset) fails the requests that use it before the pool
    notices, at most the pool's connections, as outages (503); the first such failure makes
    the pool replace every connection it holds (tests/integration/test_postgres_pool.py).
    A worker, which retries what failed (the relay's next round, a consumer's delivery that
    waits out an outage), gains nothing from the ping even straight to PostgreSQL, where it
    was a tenth of the consumer worker's CPU under the mix: `pre_ping=False`."""
    connect_args: dict[str, Any] = {
        "timeout": connect_timeout,
        "command_timeout": statement_timeout,
    }
    if pgbouncer:
        connect_args |= {
            "statement_cache_size": 0,
            "prepared_statement_cache_size": 0,
            "prepared_statement_name_func": lambda: f"__asyncpg_{uuid4().hex}__",
        }
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=not pgbouncer if pre_ping is None else pre_ping,
        pool_timeout=connect_timeout,
        echo=echo,
        connect_args=connect_args,
    )


def _sqlite_engine(url: str, *, immediate: bool, echo: bool) -> AsyncEngine:
    """SQLite in WAL mode, its statements run on the event loop's thread (see `inline_sqlite`),
    whatever driver the URL names. The write engine has one connection, so this process's
    writers queue for it in the pool instead of polling the lock in the busy handler's sleeps,
    and its transactions take the write lock up front (BEGIN IMMEDIATE), waiting up to the busy
    timeout (asynchronously) while another process (a CLI command) holds it."""
    inline = make_url(url).set(drivername=f"sqlite+{inline_sqlite.DRIVER}")
    if inline.database and inline.database != ":memory:":
        Path(inline.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(
        inline,
        echo=echo,
        pool_size=1 if immediate else 5,
        max_overflow=0 if immediate else 10,
        begin="BEGIN IMMEDIATE" if immediate else "BEGIN",
        lock_wait_seconds=SQLITE_BUSY_TIMEOUT_MS / 1000 if immediate else None,
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # the dialect issues BEGIN itself
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        if immediate:  # its BEGIN waits for the lock itself, without blocking the loop
            cursor.execute("PRAGMA busy_timeout=0")
        cursor.close()

    return engine
