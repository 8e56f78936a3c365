"""Relays as real processes on PostgreSQL and RabbitMQ: two at once publish each event once,
and a relay killed (-9) between publishing and marking is made good by the next one, its
duplicate absorbed by the consumer's inbox.

Run alone: `make fault-relay`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aio_pika
import pytest
from sqlalchemy import text

from shelfmark.bootstrap import Shelfmark, bootstrap
from shelfmark.catalog.application.commands import AddBook
from shelfmark.config import Settings
from shelfmark.entrypoints.workers.consume import consume
from shelfmark.seedwork.infrastructure.database import Engines
from tests.fault.conftest import outbox_ids, unpublished
from tests.support.broker import amqp_url, eventually
from tests.support.counting_consumer import CountingConsumer

pytestmark = [pytest.mark.fault, pytest.mark.postgres]

CATALOG = frozenset({"BookAdded", "CopyAdded"})


@pytest.fixture
async def app(
    postgres_engines: Engines, prefix: str, effects_table: None, tmp_path: Path
) -> AsyncIterator[Shelfmark]:
    settings = Settings(broker_url=amqp_url(), broker_prefix=prefix, var_dir=tmp_path)
    counting = CountingConsumer(postgres_engines.write, CATALOG)
    app = bootstrap(settings, engines=postgres_engines, consumers=[counting])
    yield app
    await app.events.close()


@pytest.fixture
def relay_env(app: Shelfmark, postgres_url: str, tmp_path: Path) -> dict[str, str]:
    return os.environ | {
        "DATABASE_URL": postgres_url,
        "SHELFMARK_BROKER_URL": amqp_url(),
        "SHELFMARK_BROKER_PREFIX": app.settings.broker_prefix,
        "SHELFMARK_VAR_DIR": str(tmp_path),
        "SHELFMARK_RELAY_POLL_SECONDS": "0.2",
        "SHELFMARK_RELAY_BATCH_SIZE": "50",
        "SHELFMARK_LOG_LEVEL": "warning",
    }


@contextlib.contextmanager
def relay_process(env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "shelfmark", "worker", "relay"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=10)


@contextlib.asynccontextmanager
async def consuming(app: Shelfmark) -> AsyncIterator[CountingConsumer]:
    """Runs the consumers in this process once their queues exist (declared before any relay
    publishes, so no event is dropped for want of a queue)."""
    assert app.events.topology is not None
    connection = await aio_pika.connect(amqp_url())
    try:
        await app.events.topology.declare(await connection.channel())
    finally:
        await connection.close()
    task = asyncio.create_task(consume(app))
    try:
        consumer = app.events.consumers[-1]
        assert isinstance(consumer, CountingConsumer)
        yield consumer
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def backlog(app: Shelfmark, books: int) -> set[object]:
    for n in range(books):
        await app.execute(AddBook(title=f"Backlog {n}", author="Test", copies=2, actor="test"))
    return await outbox_ids(app, CATALOG)


async def test_two_relay_processes_publish_each_event_once(
    app: Shelfmark, relay_env: dict[str, str]
) -> None:
    expected = await backlog(app, 200)  # 600 events
    async with consuming(app) as counting:
        with relay_process(relay_env), relay_process(relay_env):

            async def done() -> bool:
                return await unpublished(app) == 0 and set(await counting.effects()) == expected

            await eventually(done, within=60, what="every event published and applied")
    assert len(expected) == 600
    assert set(counting.deliveries.values()) == {1}, "an event was published twice"
    assert set((await counting.effects()).values()) == {1}


async def test_a_relay_killed_between_publish_and_mark_publishes_again(
    app: Shelfmark, relay_env: dict[str, str], postgres_engines: Engines
) -> None:
    expected = await backlog(app, 10)  # 30 events
    async with consuming(app) as counting:
        # SHARE mode lets the relay claim rows (FOR UPDATE) and publish them, but blocks its
        # UPDATE that would mark them published: the kill lands between the two.
        blocker = await postgres_engines.write.connect()
        await blocker.begin()
        await blocker.execute(text("LOCK TABLE outbox IN SHARE MODE"))
        try:
            with relay_process(relay_env) as relay:

                async def published() -> bool:
                    return set(counting.deliveries) == expected

                await eventually(published, within=30, what="the batch published")
                os.kill(relay.pid, signal.SIGKILL)
                relay.wait(timeout=10)
        finally:
            await blocker.rollback()
            await blocker.close()
        assert await unpublished(app) == len(expected), "nothing was marked before the kill"

        with relay_process(relay_env):

            async def made_good() -> bool:
                return await unpublished(app) == 0 and all(
                    counting.deliveries[e] == 2 for e in expected
                )

            await eventually(made_good, within=30, what="the batch published again")
    assert set(counting.deliveries.values()) == {2}
    assert set((await counting.effects()).values()) == {1}, "the inbox let a duplicate through"
