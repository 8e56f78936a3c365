"""On SQLite the background work of the embedded process runs in steps (`giving_way.py`): the
relay hands a whole batch to the in-process consumers, and the mail sender sends a whole round,
letting the requests in flight run once a step is over, not at each transaction and read. With
a turn per transaction they fell behind the commands feeding them under load."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from uuid import uuid4

import pytest

from shelfmark.bootstrap import Shelfmark, bootstrap
from shelfmark.catalog.application.commands import AddBook
from shelfmark.config import Settings
from shelfmark.entrypoints.workers.mail import MailWorker
from shelfmark.notifications.domain.model import Notification
from shelfmark.notifications.infrastructure.repository import SqlNotificationsUnitOfWork
from shelfmark.seedwork.infrastructure import giving_way
from shelfmark.seedwork.infrastructure.database import Engines
from tests.support.clock import MutableClock

BATCH = 20


class Others:
    """A request in flight: counts the turns the loop gives it."""

    def __init__(self) -> None:
        self.turns = 0

    async def run(self) -> None:
        while True:
            self.turns += 1
            await asyncio.sleep(0)


@pytest.fixture
def app(sqlite_engines: Engines, clock: MutableClock, tmp_path: Path) -> Shelfmark:
    return bootstrap(Settings(var_dir=tmp_path), clock=clock, engines=sqlite_engines)


@pytest.fixture
async def others(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Others]:
    monkeypatch.setattr(giving_way, "STEP_SECONDS", 60.0)  # the whole test is one step
    others = Others()
    task = asyncio.create_task(others.run())
    await asyncio.sleep(0)
    yield others
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_the_relay_hands_a_batch_to_the_consumers_in_one_step(
    app: Shelfmark, others: Others
) -> None:
    for i in range(BATCH):
        await app.execute(AddBook(title=f"Book {i}", author="An Author"))
    before = others.turns

    relayed = await app.events.relay.relay_once(app.clock.now())

    assert relayed == 2 * BATCH  # BookAdded and CopyAdded
    # Giving way once to read the batch and once to mark it, none for its 40 events.
    assert others.turns - before <= 2


async def test_the_mail_sender_sends_a_round_in_one_step(
    app: Shelfmark, others: Others, clock: MutableClock, tmp_path: Path
) -> None:
    async with SqlNotificationsUnitOfWork(app.engines.write) as uow:
        for i in range(BATCH):
            uow.add(
                Notification.queue(
                    event_id=uuid4(),
                    kind="loan_receipt",
                    patron_id=uuid4(),
                    recipient=f"reader{i}@example.org",
                    subject="Your loan",
                    text="Enjoy the book.",
                    html="<p>Enjoy the book.</p>",
                    now=clock.now(),
                )
            )
        await uow.commit()
    before = others.turns

    handled = await MailWorker(app).round()

    assert handled == BATCH
    assert len(list((tmp_path / "mail").glob("*.eml"))) == BATCH
    assert others.turns - before <= 1
