"""The published feed: what the relay marked, in the order it marked it, each row once, on
both databases."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import delete, insert, select

from shelfmark.seedwork.infrastructure.database import Engines
from shelfmark.seedwork.infrastructure.outbox import outbox
from shelfmark.seedwork.infrastructure.published_feed import PublishedFeed
from shelfmark.seedwork.messaging import Envelope
from tests.integration.test_outbox_relay import RecordingPublisher, relay_for, ticks, write_events
from tests.support.clock import MONDAY

LOOKBACK = timedelta(minutes=1)


async def relay_at(engines: Engines, when: timedelta) -> None:
    """One relay round that began at MONDAY + `when`: every unpublished row is marked so."""
    await relay_for(engines, RecordingPublisher()).relay_once(MONDAY + when)


async def read(feed: PublishedFeed) -> list[int]:
    """The next batch's event numbers, handled."""
    envelopes = await feed.next_batch()
    feed.done()
    return numbers(envelopes)


def numbers(envelopes: list[Envelope]) -> list[int]:
    return [e.payload["n"] for e in envelopes]


async def test_rows_are_read_once_in_the_order_they_were_marked(engines: Engines) -> None:
    aggregate = uuid.uuid4()
    feed = PublishedFeed(engines.read, MONDAY, lookback=LOOKBACK)
    await write_events(engines, ticks(aggregate, 3))
    await relay_at(engines, timedelta(seconds=1))
    await write_events(engines, ticks(aggregate, 2, start=3))
    await relay_at(engines, timedelta(seconds=2))

    assert await read(feed) == [0, 1, 2, 3, 4]
    assert await read(feed) == []

    await write_events(engines, ticks(aggregate, 1, start=5))
    assert await read(feed) == []  # committed, not yet published

    await relay_at(engines, timedelta(seconds=3))
    assert await read(feed) == [5]


async def test_a_round_larger_than_a_batch_is_read_batch_by_batch(engines: Engines) -> None:
    """The rows of one relay round share their published_at: the cursor's position keeps a
    batch that ends inside a round from reading its start again (or never moving on)."""
    feed = PublishedFeed(engines.read, MONDAY, lookback=LOOKBACK, batch=3)
    await write_events(engines, ticks(uuid.uuid4(), 7))
    await relay_at(engines, timedelta(seconds=1))

    batches = [await read(feed) for _ in range(4)]

    assert batches == [[0, 1, 2], [3, 4, 5], [6], []]


async def test_it_starts_a_lookback_before_its_own_start(engines: Engines) -> None:
    """A round that began before the feed started (marked after it) is read; one published
    before the lookback is the past the process never cached."""
    aggregate = uuid.uuid4()
    await write_events(engines, ticks(aggregate, 1))
    await relay_at(engines, -LOOKBACK - timedelta(seconds=1))
    await write_events(engines, ticks(aggregate, 1, start=1))
    await relay_at(engines, -LOOKBACK + timedelta(seconds=1))

    feed = PublishedFeed(engines.read, MONDAY, lookback=LOOKBACK)

    assert await read(feed) == [1]


async def test_a_lower_position_marked_later_is_still_read(engines: Engines) -> None:
    """On PostgreSQL a sequence hands out positions before commit, so a transaction holding
    a lower position can commit, and be published, after a higher one: the cursor is when a
    row was marked, not its position."""
    feed = PublishedFeed(engines.read, MONDAY, lookback=LOOKBACK)
    await write_events(engines, ticks(uuid.uuid4(), 3))
    async with engines.write.begin() as connection:
        first = (await connection.execute(select(outbox).order_by(outbox.c.position))).first()
        assert first is not None
        await connection.execute(delete(outbox).where(outbox.c.position == first.position))
    await relay_at(engines, timedelta(seconds=1))
    assert await read(feed) == [1, 2]

    async with engines.write.begin() as connection:  # the late commit of the lower position
        await connection.execute(insert(outbox).values(first._asdict()))
    await relay_at(engines, timedelta(seconds=2))

    assert await read(feed) == [0]


async def test_a_batch_not_handled_is_read_again(engines: Engines) -> None:
    feed = PublishedFeed(engines.read, MONDAY, lookback=LOOKBACK)
    await write_events(engines, ticks(uuid.uuid4(), 2))
    await relay_at(engines, timedelta(seconds=1))

    assert numbers(await feed.next_batch()) == [0, 1]  # and the caller failed: no done()
    assert await read(feed) == [0, 1]
    assert await read(feed) == []
