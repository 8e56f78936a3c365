"""Real databases for tests: a migrated SQLite file per test, one fresh PostgreSQL database
per test session. With CI=true a missing PostgreSQL fails the run instead of skipping."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import text

from shelfmark.bootstrap import migrations
from shelfmark.bootstrap.tables import metadata
from shelfmark.seedwork.infrastructure.database import Engines, create_engines

POSTGRES_HOST = os.environ.get("SHELFMARK_TEST_PG_HOST", "127.0.0.1")
POSTGRES_PORT = int(os.environ.get("SHELFMARK_TEST_PG_PORT", "5432"))
POSTGRES_USER = os.environ.get("SHELFMARK_TEST_PG_USER", "postgres")


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def postgres_url(database: str) -> str:
    return f"postgresql+asyncpg://{POSTGRES_USER}@{POSTGRES_HOST}:{POSTGRES_PORT}/{database}"


def service_missing(what: str, error: BaseException) -> None:
    message = f"{what} is not reachable: {error}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (CI=true: a test that needs a service fails without it)")
    pytest.skip(message)


async def _admin() -> asyncpg.Connection:
    return await asyncpg.connect(
        host=POSTGRES_HOST, port=POSTGRES_PORT, user=POSTGRES_USER, database="postgres", timeout=5
    )


@asynccontextmanager
async def fresh_postgres_database() -> AsyncIterator[str]:
    """Creates a uniquely named database, yields its URL, drops it afterwards."""
    name = f"shelfmark_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = await _admin()
    except (TimeoutError, OSError, asyncpg.PostgresError) as error:
        service_missing(f"PostgreSQL at {POSTGRES_HOST}:{POSTGRES_PORT}", error)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield postgres_url(name)
    finally:
        admin = await _admin()
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def migrated_sqlite_template(directory: Path) -> Path:
    path = directory / "template.db"
    engines = create_engines(sqlite_url(path))
    try:
        await migrations.upgrade(engines.write)
    finally:
        await engines.dispose()
    return path


def sqlite_copy(template: Path, directory: Path) -> Engines:
    path = directory / f"{uuid.uuid4().hex}.db"
    shutil.copyfile(template, path)
    return create_engines(sqlite_url(path))


async def truncate_all(engines: Engines) -> None:
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    async with engines.write.begin() as connection:
        await connection.execute(text(f"TRUNCATE {names} CASCADE"))
