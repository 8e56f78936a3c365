"""The lending use cases end to end over the in-memory fakes."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID

import pytest

from shelfmark.catalog.application.commands import AddBook
from shelfmark.catalog.application.handlers import add_book
from shelfmark.lending.application.commands import (
    BorrowBook,
    RecordPayment,
    RenewLoan,
    ReturnBook,
    ReturnLoan,
)
from shelfmark.lending.application.handlers import (
    borrow_book,
    record_payment,
    renew_loan,
    return_book,
    return_loan,
)
from shelfmark.lending.domain.errors import BorrowingRefused, LoanNotFound, PatronNotFound
from shelfmark.patrons.application.commands import RegisterPatron, SuspendPatron
from shelfmark.patrons.application.handlers import register_patron, suspend_patron
from shelfmark.patrons.domain.model import Membership
from shelfmark.seedwork.domain import InvalidValue
from tests.support.clock import MutableClock
from tests.support.fakes import (
    FakeCatalogUnitOfWork,
    FakeLendingUnitOfWork,
    FakePatronsUnitOfWork,
    InMemoryDatabase,
)
from tests.unit.lending_builders import POLICY


@pytest.fixture
def db() -> InMemoryDatabase:
    return InMemoryDatabase()


async def a_book(db: InMemoryDatabase, clock: MutableClock, copies: int = 1) -> UUID:
    return await add_book(
        AddBook("Dune", "Frank Herbert", copies=copies), FakeCatalogUnitOfWork(db), clock
    )


async def a_patron(
    db: InMemoryDatabase, clock: MutableClock, email: str = "ada@example.org"
) -> UUID:
    command = RegisterPatron("Ada", "Lovelace", email)
    return await register_patron(command, FakePatronsUnitOfWork(db), clock, Membership(3, UTC))


async def borrow(db: InMemoryDatabase, clock: MutableClock, **fields: object) -> UUID:
    return await borrow_book(BorrowBook(**fields), FakeLendingUnitOfWork(db), clock, POLICY)  # type: ignore[arg-type]


async def test_borrow_then_return_late_charges_the_fine(
    db: InMemoryDatabase, clock: MutableClock
) -> None:
    book, patron = await a_book(db, clock), await a_patron(db, clock)
    loan_id = await borrow(db, clock, book_id=book, borrower_email="ADA@example.org")
    assert db.loans[loan_id].due_at == datetime(2026, 3, 16, 23, 59, 59, tzinfo=UTC)
    clock.set(datetime(2026, 3, 20, 10, tzinfo=UTC))
    await return_loan(ReturnLoan(loan_id), FakeLendingUnitOfWork(db), clock, POLICY)
    assert str(db.loans[loan_id].fine) == "1.00"
    assert str(db.accounts[patron].balance) == "1.00"
    names = [e.name for e in db.outbox]
    assert names[-3:] == ["BookBorrowed", "BookReturned", "FineAssessed"]


async def test_the_last_copy_goes_once(db: InMemoryDatabase, clock: MutableClock) -> None:
    book = await a_book(db, clock)
    first, second = await a_patron(db, clock), await a_patron(db, clock, "bob@example.org")
    await borrow(db, clock, book_id=book, patron_id=first)
    with pytest.raises(BorrowingRefused) as refusal:
        await borrow(db, clock, book_id=book, patron_id=second)
    assert [r.code for r in refusal.value.reasons] == ["NO_COPY_AVAILABLE"]


async def test_a_suspended_patron_may_still_return_and_pay(
    db: InMemoryDatabase, clock: MutableClock
) -> None:
    book, patron = await a_book(db, clock), await a_patron(db, clock)
    await borrow(db, clock, book_id=book, patron_id=patron)
    await suspend_patron(SuspendPatron(patron, "lost books"), FakePatronsUnitOfWork(db), clock)
    with pytest.raises(BorrowingRefused):
        await borrow(db, clock, book_id=await a_book(db, clock), patron_id=patron)
    clock.set(datetime(2026, 3, 25, tzinfo=UTC))
    await return_book(ReturnBook(book), FakeLendingUnitOfWork(db), clock, POLICY)
    await record_payment(RecordPayment(patron, Decimal("0.50")), FakeLendingUnitOfWork(db), clock)
    assert str(db.accounts[patron].balance) == "1.50"  # 8 days late, Sunday free: 7 x 0.25 - 0.50


async def test_renewal_of_an_overdue_loan_charges_at_renewal(
    db: InMemoryDatabase, clock: MutableClock
) -> None:
    book, patron = await a_book(db, clock), await a_patron(db, clock)
    loan_id = await borrow(db, clock, book_id=book, patron_id=patron)
    clock.set(datetime(2026, 3, 20, 10, tzinfo=UTC))
    await renew_loan(RenewLoan(loan_id), FakeLendingUnitOfWork(db), clock, POLICY)
    assert str(db.accounts[patron].balance) == "1.00"
    assert db.loans[loan_id].renewals_left == 1


async def test_unknown_ids_are_not_found(db: InMemoryDatabase, clock: MutableClock) -> None:
    book = await a_book(db, clock)
    with pytest.raises(PatronNotFound):
        await borrow(db, clock, book_id=book, borrower_email="nobody@example.org")
    with pytest.raises(LoanNotFound):
        await return_book(ReturnBook(book), FakeLendingUnitOfWork(db), clock, POLICY)
    with pytest.raises(InvalidValue):
        await borrow(db, clock, book_id=book)


async def test_a_desk_return_with_several_copies_out_must_say_which(
    db: InMemoryDatabase, clock: MutableClock
) -> None:
    book = await a_book(db, clock, copies=2)
    ada, bob = await a_patron(db, clock), await a_patron(db, clock, "bob@example.org")
    await borrow(db, clock, book_id=book, patron_id=ada)
    bobs = await borrow(db, clock, book_id=book, patron_id=bob)
    with pytest.raises(InvalidValue):
        await return_book(ReturnBook(book), FakeLendingUnitOfWork(db), clock, POLICY)
    returned = await return_book(
        ReturnBook(book, borrower_email="bob@example.org"), FakeLendingUnitOfWork(db), clock, POLICY
    )
    assert returned == bobs


async def test_a_refused_borrow_leaves_nothing_behind(
    db: InMemoryDatabase, clock: MutableClock
) -> None:
    book, patron = await a_book(db, clock), await a_patron(db, clock)
    await borrow(db, clock, book_id=book, patron_id=patron)
    events_before = len(db.outbox)
    with pytest.raises(BorrowingRefused):
        await borrow(db, clock, book_id=book, patron_id=patron)
    assert len(db.loans) == 1
    assert len(db.outbox) == events_before
