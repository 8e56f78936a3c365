"""A running deployment the e2e suite speaks to over HTTP (SHELFMARK_E2E_URL, `make
test-cluster`): its signing key, its database and Redis, and how to empty them between tests."""

from __future__ import annotations

import asyncio
import os
import time

import pytest
import redis.asyncio
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from shelfmark.bootstrap.security import token_service
from shelfmark.bootstrap.tables import metadata
from shelfmark.config import Settings
from shelfmark.seedwork.clock import SystemClock
from shelfmark.seedwork.infrastructure.database import Engines, create_engines
from shelfmark.seedwork.infrastructure.job_runs import job_runs
from tests.support.auth import Deployment

#: The deployment's URL (nginx), or None: the tests use the in-process app.
E2E_URL = os.environ.get("SHELFMARK_E2E_URL")


def signing() -> Deployment:
    """Tokens signed with the deployment's key."""
    secret = os.environ.get("SHELFMARK_JWT_SECRET")
    if not secret:
        pytest.fail("SHELFMARK_E2E_URL needs the deployment's SHELFMARK_JWT_SECRET")
    return Deployment(token_service(Settings(jwt_secret=secret), SystemClock()))


def database_url() -> str:
    """The deployment's database, straight (not through PgBouncer)."""
    url = os.environ.get("SHELFMARK_E2E_DATABASE_URL")
    if not url:
        pytest.fail("this test needs SHELFMARK_E2E_DATABASE_URL, the deployment's database")
    return url


#: Kept: emptied, it would let the deployment's scheduler run the day's jobs again after every
#: test, at moments no test chose.
KEPT = {job_runs.name}


async def empty_while_workers_run(engines: Engines) -> None:
    """TRUNCATE every table but KEPT. The deployment's consumers may be in a transaction that
    waits on one of their own other connections, queued behind the TRUNCATE: a wait PostgreSQL
    cannot see as a deadlock. So the TRUNCATE gives up its place in the lock queue after
    0.1 s, lets the workers on, and tries again until it gets every lock."""
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables if t.name not in KEPT)
    deadline = time.monotonic() + 60
    while True:
        try:
            async with engines.write.begin() as connection:
                await connection.execute(text("SET LOCAL lock_timeout = '100ms'"))
                await connection.execute(text(f"TRUNCATE {names} CASCADE"))
            return
        except DBAPIError:
            if time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.2)


async def forget_cached() -> None:
    """Flushes the deployment's Redis database (SHELFMARK_E2E_REDIS_URL), if it has one."""
    cache = os.environ.get("SHELFMARK_E2E_REDIS_URL")
    if cache:
        client = redis.asyncio.Redis.from_url(cache)
        try:
            await client.flushdb()
        finally:
            await client.aclose()


async def clean_slate() -> None:
    """An empty database and cache, as each in-process test gets a fresh database."""
    engines = create_engines(database_url())
    try:
        await empty_while_workers_run(engines)
    finally:
        await engines.dispose()
    await forget_cached()
