"""Pooled PostgreSQL connections that the server side dropped, on the real PostgreSQL.

Straight to PostgreSQL (whose restart drops them) each is pinged before use and a dead one is
replaced unseen. Behind PgBouncer (`pgbouncer=True`) a client connection outlives PostgreSQL's
restarts and the ping is not paid; should one die all the same (PgBouncer itself restarted,
played here by dropping the connection at the server), its first use fails as an outage,
which a request answers 503, and the pool then replaces every connection it holds. A worker
turns the ping off straight to PostgreSQL too (`pre_ping=False`): it retries what failed."""

from __future__ import annotations

from contextlib import AsyncExitStack

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from shelfmark.seedwork.infrastructure.database import Engines, create_engines
from shelfmark.seedwork.infrastructure.outages import is_outage
from tests.support.databases import POSTGRES_HOST, POSTGRES_PORT, POSTGRES_USER

pytestmark = pytest.mark.postgres

POOLED = 3


async def _backend_pids(engines: Engines) -> list[int]:
    """Checks out POOLED connections at once and returns their server processes to the pool."""
    async with AsyncExitStack() as stack:
        held = [await stack.enter_async_context(engines.write.connect()) for _ in range(POOLED)]
        return [int(await held_one.scalar(text("SELECT pg_backend_pid()"))) for held_one in held]


async def _drop(pids: list[int]) -> None:
    admin = await asyncpg.connect(
        host=POSTGRES_HOST, port=POSTGRES_PORT, user=POSTGRES_USER, database="postgres"
    )
    try:
        for pid in pids:
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()


async def _select_one(engines: Engines) -> int:
    async with engines.write.connect() as connection:
        return int(await connection.scalar(text("SELECT 1")))


@pytest.mark.parametrize(
    ("behind_pgbouncer", "pre_ping", "pinged"),
    [(False, None, True), (True, None, False), (False, False, False)],
    ids=["direct", "behind-pgbouncer", "direct-unpinged"],
)
async def test_dropped_pooled_connections(
    behind_pgbouncer: bool, pre_ping: bool | None, pinged: bool, postgres_url: str
) -> None:
    engines = create_engines(
        postgres_url, pool_size=POOLED, pgbouncer=behind_pgbouncer, pre_ping=pre_ping
    )
    try:
        pids = await _backend_pids(engines)
        await _drop(pids)

        if not pinged:
            with pytest.raises(DBAPIError) as failed:
                await _select_one(engines)
            assert is_outage(failed.value)
        # Every other connection the pool held is replaced, not only the one that failed.
        for _ in range(POOLED + 1):
            assert await _select_one(engines) == 1
        assert not set(await _backend_pids(engines)) & set(pids)
    finally:
        await engines.dispose()
