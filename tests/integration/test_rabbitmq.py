"""The RabbitMQ transport against the real broker and PostgreSQL: confirmed publishing, one
effect per event through the inbox, dead letters and their replay."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import aio_pika
import pytest
from sqlalchemy import func, select, text

from shelfmark.bootstrap import Shelfmark, bootstrap
from shelfmark.catalog.application.commands import AddBook
from shelfmark.config import Settings
from shelfmark.entrypoints.workers.consume import consume
from shelfmark.entrypoints.workers.dead_letters import list_dead_letters, replay_dead_letters
from shelfmark.seedwork.infrastructure.database import Engines
from shelfmark.seedwork.infrastructure.outbox import outbox
from tests.support.broker import amqp_url, eventually, private_prefix
from tests.support.clock import MutableClock
from tests.support.counting_consumer import CountingConsumer, create_effects_table

pytestmark = pytest.mark.postgres

EVENT_TYPES = frozenset({"BookAdded", "CopyAdded"})


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    async with private_prefix() as prefix:
        yield prefix


@pytest.fixture
async def app(
    postgres_engines: Engines, prefix: str, tmp_path: Path, clock: MutableClock
) -> AsyncIterator[Shelfmark]:
    await create_effects_table(postgres_engines.write)
    settings = Settings(
        broker_url=amqp_url(), broker_prefix=prefix, var_dir=tmp_path, consumer_attempts=2
    )
    counting = CountingConsumer(postgres_engines.write, EVENT_TYPES)
    app = bootstrap(settings, clock=clock, engines=postgres_engines, consumers=[counting])
    yield app
    await app.events.close()
    async with postgres_engines.write.begin() as connection:
        await connection.execute(text("DROP TABLE test_effects"))


@contextlib.asynccontextmanager
async def consuming(app: Shelfmark) -> AsyncIterator[None]:
    task = asyncio.create_task(consume(app))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def counting(app: Shelfmark) -> CountingConsumer:
    consumer = app.events.consumers[-1]
    assert isinstance(consumer, CountingConsumer)
    return consumer


async def add_books(app: Shelfmark, count: int) -> None:
    for n in range(count):
        await app.execute(AddBook(title=f"Book {n}", author="Someone", copies=2, actor="test"))


async def unpublished(app: Shelfmark) -> int:
    async with app.engines.write.connect() as connection:
        query = select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
        return int(await connection.scalar(query) or 0)


async def relay_everything(app: Shelfmark) -> None:
    while await app.events.relay.relay_once(app.clock.now()):
        pass


async def test_every_event_is_confirmed_published_and_applied_once(app: Shelfmark) -> None:
    await add_books(app, 20)  # 20 BookAdded + 40 CopyAdded
    async with consuming(app):
        await relay_everything(app)
        assert await unpublished(app) == 0
        consumer = counting(app)

        async def all_applied() -> bool:
            return sum((await consumer.effects()).values()) == 60

        await eventually(all_applied, within=20, what="60 effects")
    effects = await consumer.effects()
    assert len(effects) == 60 and set(effects.values()) == {1}
    assert set(consumer.deliveries.values()) == {1}


async def test_a_republished_event_is_delivered_again_but_applied_once(app: Shelfmark) -> None:
    await add_books(app, 5)
    async with consuming(app):
        await relay_everything(app)
        async with app.engines.write.begin() as connection:  # as if the relay died before marking
            await connection.execute(outbox.update().values(published_at=None))
        await relay_everything(app)
        consumer = counting(app)

        async def delivered_twice() -> bool:
            return sum(consumer.deliveries.values()) == 30

        await eventually(delivered_twice, within=20, what="30 deliveries")
    assert set(consumer.deliveries.values()) == {2}
    assert set((await consumer.effects()).values()) == {1}


async def test_a_failing_event_is_dead_lettered_then_replayed_once(app: Shelfmark) -> None:
    await add_books(app, 1)
    async with app.engines.write.connect() as connection:
        poisoned = await connection.scalar(
            select(outbox.c.event_id).where(outbox.c.event_type == "BookAdded")
        )
    consumer = counting(app)
    consumer.fail_on.add(poisoned)
    async with consuming(app):
        await relay_everything(app)

        async def dead_lettered() -> bool:
            return len(await list_dead_letters(app, "counting")) == 1

        await eventually(dead_lettered, within=20, what="one dead letter")
        assert consumer.deliveries[poisoned] == 2  # consumer_attempts
        assert poisoned not in await consumer.effects()
        assert sum((await consumer.effects()).values()) == 2  # the two copies

        consumer.fail_on.clear()
        assert await replay_dead_letters(app, "counting") == 1

        async def applied() -> bool:
            return (await consumer.effects())[poisoned] == 1

        await eventually(applied, within=20, what="the replayed event applied")
    assert await list_dead_letters(app, "counting") == []


async def test_an_undecodable_message_goes_to_the_dead_letters(app: Shelfmark) -> None:
    await add_books(app, 1)
    async with consuming(app):
        await relay_everything(app)
        consumer = counting(app)

        async def running() -> bool:
            return sum((await consumer.effects()).values()) == 3

        await eventually(running, within=20, what="the consumer running")
        connection = await aio_pika.connect(amqp_url())
        try:
            channel = await connection.channel()
            exchange = await channel.get_exchange(f"{app.settings.broker_prefix}.events")
            await exchange.publish(aio_pika.Message(b"not json"), routing_key="BookAdded")
        finally:
            await connection.close()

        async def rejected() -> bool:
            channel_connection = await aio_pika.connect(amqp_url())
            try:
                channel = await channel_connection.channel()
                dead = await channel.get_queue(f"{app.settings.broker_prefix}.counting.dead")
                return (dead.declaration_result.message_count or 0) == 1
            finally:
                await channel_connection.close()

        await eventually(rejected, within=20, what="the message dead-lettered")
