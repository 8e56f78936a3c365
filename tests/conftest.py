"""Shared fixtures: clocks, and the real databases each backend-parametrised test runs on."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from shelfmark.bootstrap import migrations
from shelfmark.seedwork.infrastructure.database import Engines, create_engines
from tests.support.clock import MutableClock
from tests.support.databases import (
    fresh_postgres_database,
    migrated_sqlite_template,
    sqlite_copy,
    truncate_all,
)
from tests.support.replica import database_on_replica, session_replica

BACKENDS = ["sqlite", "postgres"]


@pytest.fixture
def clock() -> MutableClock:
    return MutableClock()


@pytest.fixture(scope="session")
async def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return await migrated_sqlite_template(tmp_path_factory.mktemp("sqlite-template"))


@pytest.fixture(scope="session")
async def postgres_url() -> AsyncIterator[str]:
    async with fresh_postgres_database() as url:
        engines = create_engines(url)
        try:
            await migrations.upgrade(engines.write)
        finally:
            await engines.dispose()
        yield url


@pytest.fixture(scope="session")
def replica_port() -> Iterator[int]:
    """A streaming replica of the local PostgreSQL for the session (tests/support/replica.py)."""
    with session_replica() as port:
        yield port


@pytest.fixture(scope="session")
async def replica_url(replica_port: int, postgres_url: str) -> str:
    """The session's database on the replica, once the replica has it."""
    return await database_on_replica(replica_port, postgres_url)


@pytest.fixture
async def sqlite_engines(sqlite_template: Path, tmp_path: Path) -> AsyncIterator[Engines]:
    engines = sqlite_copy(sqlite_template, tmp_path)
    yield engines
    await engines.dispose()


@pytest.fixture
async def postgres_engines(postgres_url: str) -> AsyncIterator[Engines]:
    engines = create_engines(postgres_url, pool_size=20)
    yield engines
    await truncate_all(engines)
    await engines.dispose()


@pytest.fixture(params=BACKENDS)
def engines(request: pytest.FixtureRequest) -> Engines:
    """The same test on the embedded SQLite database and on the real PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_engines")  # type: ignore[no-any-return]
