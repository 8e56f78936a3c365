"""Fault tests: the real PostgreSQL and RabbitMQ, with a TCP proxy or a local server the test
controls in between, so the machine's shared servers are never disturbed."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, text

from shelfmark.access.application.handlers import Principal
from shelfmark.access.domain.model import Role as AccountRole
from shelfmark.bootstrap import Shelfmark
from shelfmark.entrypoints.http.app import create_app
from shelfmark.entrypoints.workers.background import Background, Role
from shelfmark.notifications.infrastructure.orm import notifications
from shelfmark.seedwork.infrastructure.database import Engines
from shelfmark.seedwork.infrastructure.outbox import outbox
from tests.support.auth import DESK_ACCOUNT, FreshToken
from tests.support.broker import private_prefix
from tests.support.counting_consumer import create_effects_table

pytestmark = pytest.mark.fault


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    async with private_prefix() as prefix:
        yield prefix


@pytest.fixture
async def effects_table(postgres_engines: Engines) -> AsyncIterator[None]:
    await create_effects_table(postgres_engines.write)
    yield
    async with postgres_engines.write.begin() as connection:
        await connection.execute(text("DROP TABLE test_effects"))


@contextlib.asynccontextmanager
async def running(app: Shelfmark, roles: list[Role]) -> AsyncIterator[httpx.AsyncClient]:
    """The app's workers in this event loop, and an HTTP client for its API as a librarian."""
    background = Background(app, roles)
    background.start()
    transport = httpx.ASGITransport(app=create_app(shelfmark=app), raise_app_exceptions=False)
    desk = FreshToken(app, Principal(DESK_ACCOUNT, "desk", AccountRole.LIBRARIAN, None))
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://shelfmark.test", auth=desk, timeout=30
        ) as client:
            yield client
    finally:
        await background.stop()


async def outbox_ids(app: Shelfmark, types: frozenset[str]) -> set[object]:
    async with app.engines.write.connect() as connection:
        rows = await connection.execute(
            select(outbox.c.event_id).where(outbox.c.event_type.in_(types))
        )
        return {row[0] for row in rows}


async def unpublished(app: Shelfmark) -> int:
    async with app.engines.write.connect() as connection:
        query = select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
        return int(await connection.scalar(query) or 0)


async def notification_counts(app: Shelfmark) -> dict[str, int]:
    async with app.engines.write.connect() as connection:
        rows = await connection.execute(
            select(notifications.c.status, func.count()).group_by(notifications.c.status)
        )
        return {row[0]: row[1] for row in rows}


def breaker_state(app: Shelfmark, name: str) -> str:
    return next(b.state for b in app.breakers.snapshots() if b.name == name)


def sampler(read: Callable[[], str], seen: set[str]) -> asyncio.Task[None]:
    """Notes every value `read` gives, ten times a second, until cancelled."""

    async def sample() -> None:
        while True:
            seen.add(read())
            await asyncio.sleep(0.1)

    return asyncio.create_task(sample())


@pytest.fixture
def mail_dir(tmp_path: Path) -> Path:
    return tmp_path / "mail"
