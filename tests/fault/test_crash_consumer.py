"""A `shelfmark worker consume` process killed (-9) with deliveries in hand that it has not
acknowledged: RabbitMQ delivers them again, and each event's effect is applied exactly once.

Two moments, each forced, never timed:
- inside its transaction: the inbox is locked (SHARE mode) so the consumer's insert of its inbox
  row waits, after its effect was written and before anything committed; the kill rolls it back.
- after its commit, before its ack reached the broker: the worker talks to RabbitMQ through a
  proxy that goes deaf to it (tests/support/muting_proxy.py), so it receives and applies every
  event while its acks are lost; the redelivery then meets the inbox, which must absorb it.

The redeliveries are taken from the queue by the test (basic.get, so the broker's `redelivered`
flag and each ack are seen) and handed to the same consumers the worker runs, through the same
`deliver`. Run alone: `.venv/bin/python -m pytest -s tests/fault/test_crash_consumer.py`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import aio_pika
import pytest
from sqlalchemy import func, select, text

from shelfmark.bootstrap import Shelfmark, bootstrap
from shelfmark.catalog.application.commands import AddBook
from shelfmark.config import Settings
from shelfmark.lending.application.commands import BorrowBook
from shelfmark.notifications.infrastructure.orm import notifications
from shelfmark.patrons.application.commands import RegisterPatron
from shelfmark.seedwork.infrastructure.database import Engines
from shelfmark.seedwork.infrastructure.delivery import deliver
from shelfmark.seedwork.infrastructure.envelopes import decode
from shelfmark.seedwork.infrastructure.inbox import inbox
from tests.fault.conftest import outbox_ids, unpublished
from tests.support.broker import RABBITMQ_HOST, RABBITMQ_PORT, amqp_url, eventually
from tests.support.muting_proxy import MutingProxy

pytestmark = [pytest.mark.fault, pytest.mark.postgres]

LOANS = 10  # BookBorrowed events; fewer than the prefetch, so all are in the worker's hands
CONSUMER = "notifications"  # its effect, a queued e-mail per event, is easy to count
JWT_SECRET = "crash-tests-only-signing-key-0123456789"


@pytest.fixture
async def app(postgres_engines: Engines, prefix: str, tmp_path: Path) -> AsyncIterator[Shelfmark]:
    settings = Settings(broker_url=amqp_url(), broker_prefix=prefix, var_dir=tmp_path)
    app = bootstrap(settings, engines=postgres_engines)
    yield app
    await app.events.close()


@pytest.fixture
def worker_env(app: Shelfmark, postgres_url: str, tmp_path: Path) -> dict[str, str]:
    return os.environ | {
        "DATABASE_URL": postgres_url,
        "SHELFMARK_BROKER_URL": amqp_url(),
        "SHELFMARK_BROKER_PREFIX": app.settings.broker_prefix,
        "SHELFMARK_VAR_DIR": str(tmp_path),
        "SHELFMARK_JWT_SECRET": JWT_SECRET,
        "SHELFMARK_LOG_LEVEL": "warning",
    }


@contextlib.contextmanager
def consume_process(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "shelfmark", "worker", "consume"],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


def kill(process: subprocess.Popen[bytes]) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


async def borrowings(app: Shelfmark) -> set[UUID]:
    """LOANS loans, each of its own book by its own patron; their BookBorrowed event ids."""
    for n in range(LOANS):
        book = await app.execute(AddBook(title=f"Crash {n}", author="Test", copies=1, actor="t"))
        patron = await app.execute(RegisterPatron(f"P{n}", "Crash", f"p{n}@crash.test"))
        await app.execute(BorrowBook(book_id=book, patron_id=patron, actor="t"))
    return {UUID(str(event)) for event in await outbox_ids(app, frozenset({"BookBorrowed"}))}


async def publish_everything(app: Shelfmark) -> None:
    """Declares every queue (so nothing is dropped for want of one), then relays the outbox."""
    assert app.events.topology is not None
    connection = await aio_pika.connect(amqp_url())
    try:
        await app.events.topology.declare(await connection.channel())
    finally:
        await connection.close()
    while await unpublished(app):
        await app.events.relay.relay_once(app.clock.now())


@dataclass(frozen=True)
class QueueState:
    ready: int
    consumers: int


async def queue_state(app: Shelfmark, consumer: str = CONSUMER, dead: bool = False) -> QueueState:
    assert app.events.topology is not None
    topology = app.events.topology
    name = topology.dead_queue(consumer) if dead else topology.queue(consumer)
    connection = await aio_pika.connect(amqp_url())
    try:
        queue = await (await connection.channel()).declare_queue(name, passive=True)
        declared = queue.declaration_result
        return QueueState(declared.message_count or 0, declared.consumer_count or 0)
    finally:
        await connection.close()


async def until_consuming(app: Shelfmark, process: subprocess.Popen[bytes], log: Path) -> None:
    """Until the worker consumes from every queue (it declares them first)."""

    async def consuming() -> bool:
        assert process.poll() is None, tail(log)
        try:
            states = [await queue_state(app, c.name) for c in app.events.consumers]
        except aio_pika.exceptions.ChannelClosed:  # not declared yet
            return False
        return all(s.consumers == 1 for s in states)

    await eventually(consuming, within=30, what="the worker consuming from every queue")


@dataclass(frozen=True)
class Redelivery:
    messages: int
    flagged: int  # with the broker's `redelivered` flag


async def take_redeliveries(app: Shelfmark, expected: set[UUID]) -> Redelivery:
    """Takes the consumer's queue one message at a time, hands each to the consumer as the
    worker does, and acks it; every message must be one of `expected`."""
    assert app.events.topology is not None
    consumer = next(c for c in app.events.consumers if c.name == CONSUMER)
    connection = await aio_pika.connect(amqp_url())
    messages = flagged = 0
    try:
        channel = await connection.channel()
        queue = await channel.get_queue(app.events.topology.queue(CONSUMER))
        while (message := await queue.get(fail=False)) is not None:
            envelope = decode(message.body)
            assert envelope.event_id in expected, envelope
            await deliver(consumer, envelope, attempts=1, backoff_seconds=0.1)
            await message.ack()
            messages += 1
            flagged += bool(message.redelivered)
    finally:
        await connection.close()
    return Redelivery(messages, flagged)


async def effects(app: Shelfmark, events: set[UUID]) -> tuple[dict[UUID, int], int]:
    """Queued e-mails per event (the effect), and the consumer's inbox rows for them."""
    async with app.engines.write.connect() as connection:
        rows = await connection.execute(
            select(notifications.c.event_id, func.count())
            .where(notifications.c.event_id.in_(events))
            .group_by(notifications.c.event_id)
        )
        marked = await connection.scalar(
            select(func.count())
            .select_from(inbox)
            .where(inbox.c.consumer == CONSUMER, inbox.c.event_id.in_(events))
        )
    return {row[0]: row[1] for row in rows}, int(marked or 0)


async def blocked_inbox_inserts(app: Shelfmark) -> int:
    async with app.engines.write.connect() as connection:
        waiting = await connection.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND query ILIKE 'INSERT INTO inbox%'"
            )
        )
    return int(waiting or 0)


async def test_a_consumer_killed_inside_its_transaction_applies_each_event_once_redelivered(
    app: Shelfmark, worker_env: dict[str, str], tmp_path: Path
) -> None:
    began = time.monotonic()
    expected = await borrowings(app)
    await publish_everything(app)
    log = tmp_path / "worker.log"
    blocker = await app.engines.write.connect()
    await blocker.begin()
    # SHARE mode lets the consumer read the inbox and write its effect, but blocks its insert
    # of the inbox row: it waits inside its transaction, its deliveries unacknowledged.
    await blocker.execute(text("LOCK TABLE inbox IN SHARE MODE"))
    try:
        with consume_process(worker_env, log) as worker:

            async def in_hand() -> bool:
                assert worker.poll() is None, tail(log)
                return await blocked_inbox_inserts(app) > 0 and (await queue_state(app)).ready == 0

            await eventually(in_hand, within=30, what="the worker blocked with every delivery")
            blocked = await blocked_inbox_inserts(app)
            kill(worker)
            killed = time.monotonic()
    finally:
        await blocker.rollback()
        await blocker.close()

    async def returned() -> bool:
        return (await queue_state(app)).ready == LOANS

    await eventually(returned, within=10, what="the unacknowledged deliveries back in the queue")
    requeued = time.monotonic() - killed
    assert await effects(app, expected) == ({}, 0), "an effect committed before the kill"

    redelivery = await take_redeliveries(app, expected)
    applied, marked = await effects(app, expected)
    print(  # the figures the report quotes; shown with -s
        f"\n{LOANS} events in the worker's hands, {blocked} consumer transactions blocked at the "
        f"kill; back in the queue {requeued * 1000:.0f} ms after it; {redelivery.messages} "
        f"redelivered ({redelivery.flagged} flagged so); whole test "
        f"{time.monotonic() - began:.1f} s"
    )
    assert redelivery == Redelivery(LOANS, LOANS)
    assert applied == dict.fromkeys(expected, 1)
    assert marked == LOANS
    assert await queue_state(app, dead=True) == QueueState(0, 0)


async def test_a_consumer_killed_after_its_commit_before_its_ack_is_absorbed_by_the_inbox(
    app: Shelfmark, worker_env: dict[str, str], tmp_path: Path
) -> None:
    began = time.monotonic()
    expected = await borrowings(app)
    log = tmp_path / "worker.log"
    async with MutingProxy(RABBITMQ_HOST, RABBITMQ_PORT) as proxy:
        env = worker_env | {"SHELFMARK_BROKER_URL": amqp_url(proxy.port)}
        with consume_process(env, log) as worker:
            await until_consuming(app, worker, log)
            proxy.mute()  # from here the broker hears nothing from the worker: no ack arrives
            await publish_everything(app)

            async def all_applied() -> bool:
                assert worker.poll() is None, tail(log)
                applied, marked = await effects(app, expected)
                return marked == LOANS and applied == dict.fromkeys(expected, 1)

            await eventually(all_applied, within=30, what="every event applied by the worker")
            kill(worker)
            killed = time.monotonic()

        async def returned() -> bool:
            return (await queue_state(app)).ready == LOANS

        await eventually(
            returned, within=10, what="the unacknowledged deliveries back in the queue"
        )
        requeued = time.monotonic() - killed

    redelivery = await take_redeliveries(app, expected)
    applied, marked = await effects(app, expected)
    print(  # the figures the report quotes; shown with -s
        f"\n{LOANS} events applied and committed by the worker, {proxy.swallowed_bytes} bytes of "
        f"its acks swallowed; back in the queue {requeued * 1000:.0f} ms after the kill; "
        f"{redelivery.messages} redelivered ({redelivery.flagged} flagged so); whole test "
        f"{time.monotonic() - began:.1f} s"
    )
    assert redelivery == Redelivery(LOANS, LOANS)
    assert applied == dict.fromkeys(expected, 1), "the inbox let a duplicate through"
    assert marked == LOANS
    assert await queue_state(app, dead=True) == QueueState(0, 0)
