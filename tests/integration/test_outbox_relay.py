"""The outbox relay against a recording publisher: commit order, marking only what the
transport confirmed, per-aggregate order, and relays sharing the work on PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Row, select

from shelfmark.bootstrap import bootstrap
from shelfmark.catalog.application.commands import AddBook
from shelfmark.config import Settings
from shelfmark.lending.application.commands import BorrowBook, ReturnLoan
from shelfmark.patrons.application.commands import RegisterPatron
from shelfmark.seedwork.domain import DomainEvent
from shelfmark.seedwork.infrastructure.database import Engines
from shelfmark.seedwork.infrastructure.outbox import append_to_outbox, outbox
from shelfmark.seedwork.infrastructure.relay import OutboxRelay
from shelfmark.seedwork.messaging import Envelope
from tests.support.clock import MONDAY, MutableClock

NOW = MONDAY + timedelta(hours=1)
#: Only there so that a relay that waits on another's lock fails the test instead of hanging.
HANG_GUARD_SECONDS = 10


@dataclass(frozen=True, kw_only=True)
class Ticked(DomainEvent):
    """A stand-in event written straight into the outbox."""

    n: int


class RecordingPublisher:
    """Records every batch it is handed; confirms all of it, only the first `confirm`, or
    raises `error` instead. With a `gate`, it says it has `entered` and waits for the gate
    before answering: a relay caught in the middle of publishing."""

    def __init__(
        self,
        *,
        confirm: int | None = None,
        error: Exception | None = None,
        gate: asyncio.Event | None = None,
    ) -> None:
        self.batches: list[list[Envelope]] = []
        self.confirm = confirm
        self.error = error
        self.gate = gate
        self.entered = asyncio.Event()

    async def publish(self, envelopes: Sequence[Envelope]) -> int:
        self.batches.append(list(envelopes))
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.error is not None:
            raise self.error
        return len(envelopes) if self.confirm is None else min(self.confirm, len(envelopes))

    @property
    def handed(self) -> list[Envelope]:
        return [envelope for batch in self.batches for envelope in batch]


def relay_for(
    engines: Engines, publisher: RecordingPublisher, batch_size: int = 200
) -> OutboxRelay:
    return OutboxRelay(
        engines.write,
        engines.read,
        publisher,
        lock_rows=engines.write.dialect.name == "postgresql",
        batch_size=batch_size,
    )


async def write_events(engines: Engines, events: Sequence[DomainEvent]) -> None:
    """One insert per event, so positions follow the list's order."""
    async with engines.write.begin() as connection:
        for event in events:
            await append_to_outbox(connection, [event])


def ticks(aggregate: uuid.UUID, count: int, start: int = 0) -> list[Ticked]:
    return [
        Ticked(aggregate_id=aggregate, occurred_at=MONDAY, actor="test", n=n)
        for n in range(start, start + count)
    ]


async def outbox_rows(engines: Engines) -> list[Row[Any]]:
    async with engines.read.connect() as connection:
        return list((await connection.execute(select(outbox).order_by(outbox.c.position))).all())


async def test_events_of_real_commands_are_published_in_position_order_and_marked(
    engines: Engines, clock: MutableClock, tmp_path: Path
) -> None:
    app = bootstrap(Settings(var_dir=tmp_path), clock=clock, engines=engines)
    book = await app.execute(AddBook(title="Dune", author="Frank Herbert"))
    patron = await app.execute(RegisterPatron("Ada", "Lovelace", "ada@example.org"))
    loan = await app.execute(BorrowBook(book_id=book, patron_id=patron))
    await app.execute(ReturnLoan(loan))
    publisher = RecordingPublisher()

    published = await relay_for(engines, publisher).relay_once(NOW)

    rows = await outbox_rows(engines)
    assert published == len(rows) > 0
    assert [e.event_id for e in publisher.handed] == [r.event_id for r in rows]
    assert [e.position for e in publisher.handed] == sorted(r.position for r in rows)
    types = [e.event_type for e in publisher.handed]
    assert types.index("BookAdded") < types.index("BookBorrowed") < types.index("BookReturned")
    assert {r.published_at for r in rows} == {NOW}
    assert {r.attempts for r in rows} == {0}


async def test_an_envelope_carries_the_event_as_written(engines: Engines) -> None:
    aggregate = uuid.uuid4()
    [event] = ticks(aggregate, 1, start=7)
    await write_events(engines, [event])
    publisher = RecordingPublisher()

    await relay_for(engines, publisher).relay_once(NOW)

    [envelope] = publisher.handed
    assert (envelope.event_id, envelope.event_type, envelope.aggregate_id) == (
        event.event_id,
        "Ticked",
        aggregate,
    )
    assert envelope.occurred_at == MONDAY
    assert envelope.payload["n"] == 7 and envelope.payload["event_id"] == str(event.event_id)


async def test_a_second_round_publishes_nothing(engines: Engines) -> None:
    await write_events(engines, ticks(uuid.uuid4(), 3))
    publisher = RecordingPublisher()
    relay = relay_for(engines, publisher)
    assert await relay.relay_once(NOW) == 3

    assert await relay.relay_once(NOW + timedelta(minutes=1)) == 0

    assert len(publisher.batches) == 1
    assert await relay.pending() == 0
    assert {r.published_at for r in await outbox_rows(engines)} == {NOW}


async def test_a_publisher_failure_leaves_the_rows_waiting_and_counts_one_attempt(
    engines: Engines,
) -> None:
    await write_events(engines, ticks(uuid.uuid4(), 3))
    relay = relay_for(engines, RecordingPublisher(error=ConnectionError("broker down")))

    with pytest.raises(ConnectionError, match="broker down"):
        await relay.relay_once(NOW)

    first, *rest = await outbox_rows(engines)
    assert first.published_at is None and first.attempts == 1
    assert "broker down" in first.last_error
    assert [(r.published_at, r.attempts, r.last_error) for r in rest] == [(None, 0, None)] * 2
    assert await relay.pending() == 3


async def test_a_failed_round_is_published_by_the_next_one(engines: Engines) -> None:
    events = ticks(uuid.uuid4(), 3)
    await write_events(engines, events)
    publisher = RecordingPublisher(error=ConnectionError("broker down"))
    relay = relay_for(engines, publisher)
    with pytest.raises(ConnectionError):
        await relay.relay_once(NOW)

    publisher.error = None
    assert await relay.relay_once(NOW) == 3

    assert [e.event_id for e in publisher.batches[-1]] == [e.event_id for e in events]
    assert await relay.pending() == 0


async def test_only_the_confirmed_prefix_is_marked_and_the_rest_follows_next_round(
    engines: Engines,
) -> None:
    events = ticks(uuid.uuid4(), 5)
    await write_events(engines, events)
    publisher = RecordingPublisher(confirm=2)
    relay = relay_for(engines, publisher)

    assert await relay.relay_once(NOW) == 2

    rows = await outbox_rows(engines)
    assert [r.published_at for r in rows] == [NOW, NOW, None, None, None]
    assert [r.attempts for r in rows] == [0, 0, 1, 0, 0]
    assert rows[2].last_error == "not confirmed"

    publisher.confirm = None
    later = NOW + timedelta(seconds=5)
    assert await relay.relay_once(later) == 3
    assert [e.event_id for e in publisher.batches[-1]] == [e.event_id for e in events[2:]]
    assert [r.published_at for r in await outbox_rows(engines)] == [NOW, NOW] + [later] * 3


@pytest.mark.postgres
async def test_a_row_locked_elsewhere_holds_back_the_rest_of_its_aggregate_only(
    postgres_engines: Engines,
) -> None:
    """Another relay holds the earliest row of A: the later rows of A wait, B goes ahead."""
    a, b = uuid.uuid4(), uuid.uuid4()
    a1, a2 = ticks(a, 2)
    b1, b2 = ticks(b, 2)
    await write_events(postgres_engines, [a1, b1, a2, b2])
    publisher = RecordingPublisher()
    relay = relay_for(postgres_engines, publisher)

    async with postgres_engines.write.connect() as other:
        await other.begin()
        await other.execute(
            select(outbox.c.position).where(outbox.c.event_id == a1.event_id).with_for_update()
        )
        async with asyncio.timeout(HANG_GUARD_SECONDS):
            assert await relay.relay_once(NOW) == 2
        await other.rollback()

    assert [e.event_id for e in publisher.handed] == [b1.event_id, b2.event_id]
    assert await relay.relay_once(NOW) == 2
    assert [e.event_id for e in publisher.batches[-1]] == [a1.event_id, a2.event_id]


def backlog(aggregates: int = 30, each: int = 10) -> list[Ticked]:
    """Each aggregate's events in a run, so a batch of 25 ends part-way through one."""
    return [e for _ in range(aggregates) for e in ticks(uuid.uuid4(), each)]


async def drain_with_two_relays(
    engines: Engines, first: RecordingPublisher, second: RecordingPublisher
) -> None:
    relays = [relay_for(engines, p, batch_size=25) for p in (first, second)]
    for _ in range(100):
        if await relays[0].pending() == 0:
            return
        await asyncio.gather(*(r.relay_once(NOW) for r in relays))
    pytest.fail("the two relays did not drain the outbox in 100 rounds")


@pytest.mark.postgres
async def test_two_relays_publish_every_event_exactly_once(postgres_engines: Engines) -> None:
    events = backlog()
    await write_events(postgres_engines, events)
    first, second = RecordingPublisher(), RecordingPublisher()

    await drain_with_two_relays(postgres_engines, first, second)

    handed = [e.event_id for e in first.handed + second.handed]
    assert len(handed) == len(set(handed)) == 300
    assert set(handed) == {e.event_id for e in events}
    assert first.handed and second.handed, "both relays should have taken a share"


@pytest.mark.postgres
async def test_a_relay_skips_the_rows_another_is_publishing_and_the_rest_of_their_aggregates(
    postgres_engines: Engines,
) -> None:
    events = backlog()
    await write_events(postgres_engines, events)
    gate = asyncio.Event()
    busy, other = RecordingPublisher(gate=gate), RecordingPublisher()
    busy_relay = relay_for(postgres_engines, busy, batch_size=25)
    other_relay = relay_for(postgres_engines, other, batch_size=25)

    busy_round = asyncio.create_task(busy_relay.relay_once(NOW))
    await busy.entered.wait()
    try:
        async with asyncio.timeout(HANG_GUARD_SECONDS):
            published_meanwhile = await other_relay.relay_once(NOW)
    finally:
        gate.set()
    assert await busy_round == 25
    assert published_meanwhile == 20

    # The busy relay held rows 0-24, the third aggregate's first half among them; the other
    # took the next batch but left that aggregate's second half (rows 25-29) to wait.
    assert [e.event_id for e in busy.handed] == [e.event_id for e in events[:25]]
    assert [e.event_id for e in other.handed] == [e.event_id for e in events[30:50]]
    assert await other_relay.relay_once(NOW) == 25
    waited = events[25:30] + events[50:70]
    assert [e.event_id for e in other.batches[-1]] == [e.event_id for e in waited]


async def test_prune_deletes_only_published_rows_older_than_the_cutoff(engines: Engines) -> None:
    old, recent, waiting = ticks(uuid.uuid4(), 3)
    relay = relay_for(engines, RecordingPublisher())
    await write_events(engines, [old])
    await relay.relay_once(datetime(2026, 3, 1, tzinfo=UTC))
    await write_events(engines, [recent])
    await relay.relay_once(datetime(2026, 3, 8, tzinfo=UTC))
    await write_events(engines, [waiting])

    assert await relay.prune(datetime(2026, 3, 5, tzinfo=UTC)) == 1

    assert [r.event_id for r in await outbox_rows(engines)] == [recent.event_id, waiting.event_id]


async def test_prune_keeps_a_row_published_exactly_at_the_cutoff(engines: Engines) -> None:
    await write_events(engines, ticks(uuid.uuid4(), 2))
    relay = relay_for(engines, RecordingPublisher())
    await relay.relay_once(NOW)

    assert await relay.prune(NOW) == 0
    assert len(await outbox_rows(engines)) == 2
