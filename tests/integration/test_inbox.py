"""The inbox on both databases: a delivery is the first only once its record is committed, and
two deliveries of one event at once take turns on the record."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from uuid import uuid4

import pytest
from sqlalchemy import func, select

from shelfmark.seedwork.infrastructure import inbox
from shelfmark.seedwork.infrastructure.database import Engines
from shelfmark.seedwork.infrastructure.transaction import writing

AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


async def records(engines: Engines) -> int:
    async with engines.read.connect() as connection:
        return int(await connection.scalar(select(func.count()).select_from(inbox.inbox)) or 0)


async def test_an_event_is_a_first_delivery_once_per_consumer(engines: Engines) -> None:
    event = uuid4()
    async with writing(engines.write) as connection:
        assert await inbox.first_delivery(connection, "search", event, AT)
        assert not await inbox.first_delivery(connection, "search", event, AT)
        assert await inbox.first_delivery(connection, "notifications", event, AT)
    async with writing(engines.write) as connection:
        assert not await inbox.first_delivery(connection, "search", event, AT)
    assert await records(engines) == 2


async def test_a_delivery_rolled_back_leaves_the_event_to_the_next(engines: Engines) -> None:
    event = uuid4()

    async def deliver_and_fail() -> None:
        async with writing(engines.write) as connection:
            assert await inbox.first_delivery(connection, "search", event, AT)
            raise RuntimeError("the effect failed")

    with pytest.raises(RuntimeError, match="the effect failed"):
        await deliver_and_fail()
    async with writing(engines.write) as connection:
        assert await inbox.first_delivery(connection, "search", event, AT)


@pytest.mark.parametrize("first_commits", [True, False])
async def test_a_second_delivery_at_once_waits_for_the_first(
    postgres_engines: Engines, first_commits: bool
) -> None:
    """PostgreSQL: the second's insert waits on the first's uncommitted record, then sees the
    first's outcome. (SQLite's writers take turns for the whole transaction.)"""
    event = uuid4()
    first_recorded, finish_first = asyncio.Event(), asyncio.Event()

    async def first() -> None:
        async with postgres_engines.write.connect() as connection, connection.begin() as tx:
            assert await inbox.first_delivery(connection, "search", event, AT)
            first_recorded.set()
            await finish_first.wait()
            if not first_commits:
                await tx.rollback()

    async def second() -> bool:
        await first_recorded.wait()
        async with writing(postgres_engines.write) as connection:
            return await inbox.first_delivery(connection, "search", event, AT)

    first_task, second_task = asyncio.create_task(first()), asyncio.create_task(second())
    await first_recorded.wait()
    for _ in range(20):
        await asyncio.sleep(0.01)  # the second's insert is in flight, waiting on the record
    assert not second_task.done()
    finish_first.set()
    await first_task
    assert await asyncio.wait_for(second_task, timeout=10) is not first_commits
    assert await records(postgres_engines) == 1
