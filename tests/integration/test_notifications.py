"""Patron e-mail end to end: circulation events become one queued message each (once, however
often the event is delivered), and the sender sends, retries, gives up or waits as the
provider answers."""

from __future__ import annotations

import email
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import Row, select, update

from shelfmark.bootstrap import Shelfmark, bootstrap
from shelfmark.catalog.application.commands import AddBook
from shelfmark.config import Settings
from shelfmark.lending.application.commands import BorrowBook, ReturnLoan
from shelfmark.notifications.application.ports import (
    Mailer,
    MailerPaused,
    MailRejected,
    OutgoingEmail,
)
from shelfmark.notifications.application.sending import SendReport, send_due
from shelfmark.notifications.infrastructure.orm import notifications
from shelfmark.patrons.application.commands import RegisterPatron
from shelfmark.seedwork.infrastructure.database import Engines
from shelfmark.seedwork.infrastructure.outbox import outbox
from tests.support.clock import MutableClock

#: A loan made on MONDAY falls due on Monday 16 March 2026 at the end of the day; the policy
#: sends its notice three days before.
THREE_DAYS_BEFORE_DUE = datetime(2026, 3, 13, 10, 0, tzinfo=UTC)
TWO_DAYS_AFTER_DUE = datetime(2026, 3, 18, 10, 0, tzinfo=UTC)


class FakeMailer:
    """Records what it sends; raises `failure` instead while one is set."""

    def __init__(self) -> None:
        self.sent: list[OutgoingEmail] = []
        self.calls = 0
        self.failure: Exception | None = None

    async def send(self, message: OutgoingEmail) -> None:
        self.calls += 1
        if self.failure is not None:
            raise self.failure
        self.sent.append(message)


@pytest.fixture
def app(engines: Engines, clock: MutableClock, tmp_path: Path) -> Shelfmark:
    settings = Settings(var_dir=tmp_path, mail_max_attempts=3)
    return bootstrap(settings, clock=clock, engines=engines)


async def borrow(app: Shelfmark) -> UUID:
    """Ada borrows Dune; returns the loan."""
    patron = await app.execute(RegisterPatron("Ada", "Lovelace", "ada@example.org"))
    book = await app.execute(AddBook(title="Dune", author="Frank Herbert"))
    loan: UUID = await app.execute(BorrowBook(book_id=book, patron_id=patron))
    return loan


async def borrow_and_return(app: Shelfmark, clock: MutableClock) -> None:
    loan = await borrow(app)
    clock.advance(days=1)
    await app.execute(ReturnLoan(loan))


async def relay(app: Shelfmark) -> None:
    await app.events.relay.relay_once(app.clock.now())
    assert await app.events.relay.pending() == 0


async def queued(app: Shelfmark) -> list[Row[Any]]:
    """Every notification, in the order of the events that queued them."""
    query = (
        select(notifications, outbox.c.event_type)
        .join(outbox, outbox.c.event_id == notifications.c.event_id)
        .order_by(outbox.c.position)
    )
    async with app.engines.read.connect() as connection:
        return list((await connection.execute(query)).all())


async def the_one(app: Shelfmark) -> Row[Any]:
    [row] = await queued(app)
    return row


async def send(app: Shelfmark, mailer: Mailer) -> SendReport:
    return await send_due(
        app.events.notifications,
        mailer,
        app.clock,
        max_attempts=app.settings.mail_max_attempts,
        limit=50,
    )


async def test_a_loan_and_its_return_each_queue_one_receipt(
    app: Shelfmark, clock: MutableClock
) -> None:
    await borrow_and_return(app, clock)

    await relay(app)

    rows = await queued(app)
    assert [(r.kind, r.event_type) for r in rows] == [
        ("loan_receipt", "BookBorrowed"),
        ("return_receipt", "BookReturned"),
    ]
    assert {r.recipient for r in rows} == {"ada@example.org"}
    assert [r.subject for r in rows] == ["Your loan receipt: Dune", "Returned: Dune"]
    assert {(r.status, r.attempts, r.next_attempt_at) for r in rows} == {("queued", 0, clock.now())}


async def test_a_redelivered_event_queues_no_second_message(
    app: Shelfmark, clock: MutableClock
) -> None:
    await borrow_and_return(app, clock)
    await relay(app)
    async with app.engines.write.begin() as connection:
        await connection.execute(update(outbox).values(published_at=None))

    await relay(app)

    assert [r.kind for r in await queued(app)] == ["loan_receipt", "return_receipt"]
    assert await app.events.dead_letters.list() == []


async def test_a_queued_message_is_sent_and_marked_sent(
    app: Shelfmark, clock: MutableClock
) -> None:
    await borrow(app)
    await relay(app)
    mailer = FakeMailer()
    clock.advance(minutes=1)

    report = await send(app, mailer)

    assert (report.sent, report.retrying, report.failed) == (1, 0, 0)
    row = await the_one(app)
    [message] = mailer.sent
    assert (message.to, message.subject) == ("ada@example.org", "Your loan receipt: Dune")
    assert message.message_id == f"<{row.id}@shelfmark>"
    assert "Dune" in message.text and "Dune" in message.html
    assert (row.status, row.attempts, row.sent_at, row.next_attempt_at) == (
        "sent",
        1,
        clock.now(),
        None,
    )


async def test_a_sent_message_is_never_claimed_again(app: Shelfmark, clock: MutableClock) -> None:
    await borrow(app)
    await relay(app)
    mailer = FakeMailer()
    await send(app, mailer)
    clock.advance(days=1)

    report = await send(app, mailer)

    assert (report.sent, mailer.calls) == (0, 1)


async def test_an_unavailable_provider_means_a_retry_later(
    app: Shelfmark, clock: MutableClock
) -> None:
    await borrow(app)
    await relay(app)
    mailer = FakeMailer()
    mailer.failure = OSError("connection refused")

    report = await send(app, mailer)

    assert (report.sent, report.retrying, report.failed) == (0, 1, 0)
    assert report.errors and "connection refused" in report.errors[0]
    row = await the_one(app)
    assert (row.status, row.attempts) == ("queued", 1)
    assert row.next_attempt_at > clock.now()
    assert "OSError" in row.last_error


async def test_a_retry_waits_for_its_time_and_then_goes_out(
    app: Shelfmark, clock: MutableClock
) -> None:
    await borrow(app)
    await relay(app)
    mailer = FakeMailer()
    mailer.failure = OSError("connection refused")
    await send(app, mailer)
    mailer.failure = None

    assert (await send(app, mailer)).sent == 0  # not due yet
    clock.set((await the_one(app)).next_attempt_at)
    assert (await send(app, mailer)).sent == 1

    row = await the_one(app)
    assert (row.status, row.attempts, mailer.calls) == ("sent", 2, 2)
    assert row.last_error is None


async def test_a_rejected_message_fails_at_once_and_for_good(
    app: Shelfmark, clock: MutableClock
) -> None:
    await borrow(app)
    await relay(app)
    mailer = FakeMailer()
    mailer.failure = MailRejected("no such mailbox")

    report = await send(app, mailer)

    assert (report.sent, report.retrying, report.failed) == (0, 0, 1)
    row = await the_one(app)
    assert (row.status, row.attempts, row.next_attempt_at) == ("failed", 1, None)
    assert row.last_error == "no such mailbox"
    mailer.failure = None
    clock.advance(days=1)
    assert (await send(app, mailer)).sent == 0
    assert mailer.calls == 1


async def test_a_paused_mailer_leaves_the_messages_waiting_without_counting_an_attempt(
    app: Shelfmark, clock: MutableClock
) -> None:
    await borrow_and_return(app, clock)
    await relay(app)
    mailer = FakeMailer()
    mailer.failure = MailerPaused("circuit breaker 'mail.file' does not permit calls")

    report = await send(app, mailer)

    assert report.paused and (report.sent, report.retrying, report.failed) == (0, 0, 0)
    assert mailer.calls == 1, "the rest of the batch is not tried once the mailer is paused"
    rows = await queued(app)
    assert {(r.status, r.attempts, r.next_attempt_at) for r in rows} == {("queued", 0, clock.now())}
    mailer.failure = None
    assert (await send(app, mailer)).sent == 2


async def test_a_message_fails_after_its_last_attempt(app: Shelfmark, clock: MutableClock) -> None:
    await borrow(app)
    await relay(app)
    mailer = FakeMailer()
    mailer.failure = OSError("connection refused")
    attempts = app.settings.mail_max_attempts

    for _ in range(attempts - 1):
        await send(app, mailer)
        clock.advance(hours=2)  # past any retry pause
    assert ((await the_one(app)).status, mailer.calls) == ("queued", attempts - 1)
    report = await send(app, mailer)

    assert report.failed == 1
    row = await the_one(app)
    assert (row.status, row.attempts, row.next_attempt_at) == ("failed", attempts, None)
    clock.advance(days=1)
    await send(app, mailer)
    assert mailer.calls == attempts


async def test_the_file_mailer_writes_one_message_per_notification_once(
    app: Shelfmark, clock: MutableClock, tmp_path: Path
) -> None:
    await borrow_and_return(app, clock)
    await relay(app)
    mail_dir = tmp_path / "mail"

    report = await send(app, app.events.mailer)

    assert report.sent == 2
    files = sorted(mail_dir.glob("*.eml"))
    assert len(files) == 2
    messages = [email.message_from_bytes(f.read_bytes()) for f in files]
    rows = await queued(app)
    assert {m["Message-ID"] for m in messages} == {f"<{r.id}@shelfmark>" for r in rows}
    assert {m["To"] for m in messages} == {"ada@example.org"}
    assert {m["Subject"] for m in messages} == {r.subject for r in rows}
    written = {f.name: f.read_bytes() for f in files}

    clock.advance(days=1)
    again = await send(app, app.events.mailer)

    assert again.sent == 0
    assert {f.name: f.read_bytes() for f in mail_dir.glob("*.eml")} == written


async def test_the_daily_jobs_queue_a_due_soon_notice(app: Shelfmark, clock: MutableClock) -> None:
    await borrow(app)
    clock.set(THREE_DAYS_BEFORE_DUE)

    report = await app.run_daily_jobs()
    await relay(app)

    assert report.changed["due_soon_notices"] == 1
    [notice] = [r for r in await queued(app) if r.kind == "due_soon"]
    assert notice.event_type == "LoanFallingDue"
    assert notice.recipient == "ada@example.org"
    assert notice.subject == "Reminder: Dune is due back on Monday 16 March 2026"


async def test_the_daily_jobs_queue_an_overdue_notice(app: Shelfmark, clock: MutableClock) -> None:
    await borrow(app)
    clock.set(TWO_DAYS_AFTER_DUE)

    report = await app.run_daily_jobs()
    await relay(app)

    assert report.changed["register_overdue"] == 1
    [notice] = [r for r in await queued(app) if r.kind == "overdue"]
    assert notice.event_type == "LoanBecameOverdue"
    assert notice.recipient == "ada@example.org"
    assert notice.subject == "Overdue: Dune was due back on Monday 16 March 2026"
    assert [r.kind for r in await queued(app)] == ["loan_receipt", "overdue"]
