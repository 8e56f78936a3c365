"""The embedded transport: the relay hands each event to the consumers in this process, a
redelivery is absorbed by the consumer's inbox, and an event a consumer keeps failing on is
dead-lettered (and can be replayed) without holding up the others."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import pytest
from sqlalchemy import select, text, update

from shelfmark.bootstrap import Shelfmark, bootstrap
from shelfmark.catalog.application.commands import AddBook
from shelfmark.config import Settings
from shelfmark.entrypoints.workers.dead_letters import list_dead_letters, replay_dead_letters
from shelfmark.patrons.application.commands import RegisterPatron
from shelfmark.seedwork.infrastructure.database import Engines
from shelfmark.seedwork.infrastructure.outbox import outbox
from tests.support.clock import MutableClock
from tests.support.counting_consumer import CountingConsumer, create_effects_table

EVENT_TYPES = frozenset({"BookAdded", "PatronRegistered"})


@pytest.fixture
async def counting(engines: Engines) -> AsyncIterator[CountingConsumer]:
    await create_effects_table(engines.write)
    yield CountingConsumer(engines.write, EVENT_TYPES)
    async with engines.write.begin() as connection:
        await connection.execute(text("DROP TABLE test_effects"))


@pytest.fixture
def app(
    engines: Engines, clock: MutableClock, tmp_path: Path, counting: CountingConsumer
) -> Shelfmark:
    settings = Settings(var_dir=tmp_path, consumer_attempts=2)
    return bootstrap(settings, clock=clock, engines=engines, consumers=[counting])


async def some_events(app: Shelfmark) -> list[UUID]:
    """Three events the counting consumer wants (and a few it does not), in commit order."""
    await app.execute(AddBook(title="Dune", author="Frank Herbert"))
    await app.execute(RegisterPatron("Ada", "Lovelace", "ada@example.org"))
    await app.execute(AddBook(title="Emma", author="Jane Austen"))
    query = (
        select(outbox.c.event_id)
        .where(outbox.c.event_type.in_(EVENT_TYPES))
        .order_by(outbox.c.position)
    )
    async with app.engines.read.connect() as connection:
        return list((await connection.scalars(query)).all())


async def relay(app: Shelfmark) -> int:
    return await app.events.relay.relay_once(app.clock.now())


async def unpublished(app: Shelfmark) -> int:
    return await app.events.relay.pending()


def once_each(event_ids: list[UUID]) -> Counter[UUID]:
    return Counter(dict.fromkeys(event_ids, 1))


async def test_each_event_reaches_the_consumer_once(
    app: Shelfmark, counting: CountingConsumer
) -> None:
    events = await some_events(app)
    assert len(events) == 3

    await relay(app)

    assert counting.deliveries == once_each(events)
    assert await counting.effects() == once_each(events)
    assert await unpublished(app) == 0


async def test_a_redelivered_event_is_absorbed_by_the_inbox(
    app: Shelfmark, counting: CountingConsumer
) -> None:
    """A crash between publishing and marking: the rows go out a second time."""
    events = await some_events(app)
    await relay(app)
    async with app.engines.write.begin() as connection:
        await connection.execute(update(outbox).values(published_at=None))

    await relay(app)

    assert counting.deliveries == Counter(dict.fromkeys(events, 2))
    assert await counting.effects() == once_each(events)
    assert await list_dead_letters(app, "counting") == []
    assert await unpublished(app) == 0


async def test_an_event_the_consumer_keeps_failing_on_is_dead_lettered_after_its_attempts(
    app: Shelfmark, counting: CountingConsumer
) -> None:
    first, poisoned, last = await some_events(app)
    counting.fail_on = {poisoned}

    await relay(app)

    assert counting.deliveries == Counter({first: 1, poisoned: 2, last: 1})
    assert await counting.effects() == once_each([first, last])
    assert await unpublished(app) == 0, "a dead-lettered event still counts as delivered"
    [letter] = await list_dead_letters(app, "counting")
    assert (letter.consumer, letter.envelope.event_id) == ("counting", poisoned)
    assert letter.envelope.event_type == "PatronRegistered"
    assert "told to fail" in letter.error


async def test_a_replayed_dead_letter_is_applied_once_and_leaves_the_list(
    app: Shelfmark, counting: CountingConsumer, clock: MutableClock
) -> None:
    first, poisoned, last = await some_events(app)
    counting.fail_on = {poisoned}
    await relay(app)
    counting.fail_on = set()
    clock.advance(hours=1)

    assert await replay_dead_letters(app, "counting") == 1

    assert await counting.effects() == once_each([first, poisoned, last])
    assert await list_dead_letters(app, "counting") == []
    assert await replay_dead_letters(app, "counting") == 0


async def test_a_dead_letter_of_one_consumer_is_not_listed_for_another(
    app: Shelfmark, counting: CountingConsumer
) -> None:
    _, poisoned, _ = await some_events(app)
    counting.fail_on = {poisoned}
    await relay(app)

    assert await list_dead_letters(app, "notifications") == []
    assert [letter.consumer for letter in await list_dead_letters(app, None)] == ["counting"]


async def test_replaying_for_an_unknown_consumer_is_refused(app: Shelfmark) -> None:
    with pytest.raises(ValueError, match="no consumer named 'nobody'"):
        await replay_dead_letters(app, "nobody")


async def test_a_consumer_gets_only_its_event_types_and_every_row_is_marked(
    app: Shelfmark, counting: CountingConsumer
) -> None:
    await app.execute(AddBook(title="Dune", author="Frank Herbert", copies=2))

    published = await relay(app)

    assert published == 3  # BookAdded and two CopyAdded
    assert list(counting.deliveries.values()) == [1]  # the BookAdded only
    assert await unpublished(app) == 0
    assert await app.events.relay.relay_once(app.clock.now() + timedelta(seconds=1)) == 0
