"""The contract every repository and unit of work keeps, whatever stores it."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, timedelta

import pytest

from shelfmark.catalog.domain.model import Book
from shelfmark.catalog.domain.values import Barcode, Circulation, Isbn
from shelfmark.lending.domain.checkout import checkout
from shelfmark.lending.domain.model import Loan
from shelfmark.patrons.domain.model import Membership, Patron
from shelfmark.patrons.domain.values import Email, PatronCategory
from shelfmark.seedwork.application import ConcurrencyConflict
from shelfmark.seedwork.money import Money
from tests.contract.conftest import Adapters
from tests.support.clock import MONDAY
from tests.unit.lending_builders import POLICY, standing


def new_book(isbn: str | None = "9780441172719", copies: int = 1) -> Book:
    return Book.add(
        title="Dune",
        author="Frank Herbert",
        isbn=Isbn(isbn) if isbn else None,
        published_year=1965,
        copies=copies,
        circulation=Circulation.CIRCULATING,
        now=MONDAY,
        actor="desk",
    )


def new_patron(email: str = "ada@example.org") -> Patron:
    return Patron.register(
        first_name="Ada",
        last_name="Lovelace",
        email=Email(email),
        category=PatronCategory.PREMIUM,
        membership=Membership(3, UTC),
        now=MONDAY,
        actor="desk",
    )


async def stored(adapters: Adapters, book: Book, *patrons: Patron) -> None:
    async with adapters.catalog() as uow:
        uow.books.add(book)
        await uow.commit()
    for patron in patrons:
        async with adapters.patrons() as uow:
            uow.patrons.add(patron)
            await uow.commit()


def loan_for(book: Book, patron: Patron, copy_index: int = 0) -> Loan:
    copy = book.copies[copy_index]
    from shelfmark.lending.domain.checkout import ShelfCopy

    s = standing(category="premium")
    s = type(s)(
        type(s.borrower)(patron.id, "premium", False, date(2030, 1, 1)), s.record, POLICY, s.today
    )
    return checkout(
        book_id=book.id,
        copies=[
            ShelfCopy(
                copy.id, copy.barcode.value, copy.circulation.value, copy.replacement_cost, False
            )
        ],
        standing=s,
        barcode=None,
        now=MONDAY,
        actor="desk",
    )


async def test_a_book_round_trips_with_its_copies(adapters: Adapters) -> None:
    book = new_book(copies=2)
    await stored(adapters, book)
    async with adapters.catalog() as uow:
        loaded = await uow.books.get(book.id)
        assert loaded is not None
        assert (loaded.title, loaded.author, loaded.isbn, loaded.published_year) == (
            "Dune",
            "Frank Herbert",
            Isbn("9780441172719"),
            1965,
        )
        assert {c.barcode for c in loaded.copies} == {c.barcode for c in book.copies}
        assert loaded.version == 1
        assert await uow.books.isbn_taken(Isbn("9780441172719"))
        assert not await uow.books.isbn_taken(Isbn("9780804429573"))
        assert await uow.books.barcode_taken(book.copies[0].barcode)
        assert await uow.books.get(uuid.uuid4()) is None
    assert await adapters.event_names() == ["BookAdded", "CopyAdded", "CopyAdded"]


async def test_leaving_without_commit_keeps_nothing(adapters: Adapters) -> None:
    book = new_book()
    async with adapters.catalog() as uow:
        uow.books.add(book)
    async with adapters.catalog() as uow:
        assert await uow.books.get(book.id) is None
    assert await adapters.event_names() == []


async def test_a_copy_added_later_is_stored_and_versions_move_on(adapters: Adapters) -> None:
    book = new_book()
    await stored(adapters, book)
    async with adapters.catalog() as uow:
        loaded = await uow.books.get(book.id)
        assert loaded is not None
        loaded.add_copy(Barcode("EXTRA-1"), Circulation.REFERENCE, Money(4000), MONDAY, "desk")
        await uow.commit()
    async with adapters.catalog() as uow:
        again = await uow.books.get(book.id)
        assert again is not None and again.version == 2
        extra = next(c for c in again.copies if c.barcode == Barcode("EXTRA-1"))
        assert (extra.circulation, extra.replacement_cost) == (Circulation.REFERENCE, Money(4000))


async def test_a_lost_update_is_a_conflict(interleaving_adapters: Adapters) -> None:
    adapters = interleaving_adapters
    book = new_book()
    await stored(adapters, book)
    async with adapters.catalog() as first, adapters.catalog() as second:
        mine = await first.books.get(book.id)
        theirs = await second.books.get(book.id)
        assert mine is not None and theirs is not None
        mine.add_copy(Barcode("MINE-1"), Circulation.CIRCULATING, Money(100), MONDAY, "desk")
        theirs.add_copy(Barcode("THEIRS-1"), Circulation.CIRCULATING, Money(100), MONDAY, "desk")
        await first.commit()
        with pytest.raises(ConcurrencyConflict):
            await second.commit()


async def test_concurrent_writers_never_lose_an_update(adapters: Adapters) -> None:
    book = new_book(copies=0)
    await stored(adapters, book)

    async def add_copy(barcode: str) -> str | None:
        try:
            async with adapters.catalog() as uow:
                loaded = await uow.books.get(book.id)
                assert loaded is not None
                loaded.add_copy(
                    Barcode(barcode), Circulation.CIRCULATING, Money(100), MONDAY, "desk"
                )
                await uow.commit()
        except ConcurrencyConflict:
            return None
        return barcode

    written = await asyncio.gather(*(add_copy(f"COPY-{n}") for n in range(5)))
    async with adapters.catalog() as uow:
        loaded = await uow.books.get(book.id)
        assert loaded is not None
        assert {c.barcode.value for c in loaded.copies} == {b for b in written if b}
        assert loaded.version == 1 + sum(1 for b in written if b)


async def test_a_duplicate_isbn_is_a_conflict_at_commit(adapters: Adapters) -> None:
    await stored(adapters, new_book())
    async with adapters.catalog() as uow:
        uow.books.add(new_book())
        with pytest.raises(ConcurrencyConflict):
            await uow.commit()


async def test_a_patron_round_trips_and_changes_persist(adapters: Adapters) -> None:
    patron = new_patron()
    await stored(adapters, new_book(), patron)
    async with adapters.patrons() as uow:
        loaded = await uow.patrons.get(patron.id)
        assert loaded is not None
        assert (loaded.email, loaded.category, loaded.card_expires_on) == (
            Email("ada@example.org"),
            PatronCategory.PREMIUM,
            date(2029, 3, 2),
        )
        assert loaded.registered_at == MONDAY
        assert await uow.patrons.email_taken(Email("ada@example.org"))
        loaded.suspend("overdue books", MONDAY, "desk")
        await uow.commit()
    async with adapters.patrons() as uow:
        again = await uow.patrons.get(patron.id)
        assert again is not None and again.suspended_reason == "overdue books"


async def test_a_duplicate_email_is_a_conflict_at_commit(adapters: Adapters) -> None:
    await stored(adapters, new_book(), new_patron())
    async with adapters.patrons() as uow:
        uow.patrons.add(new_patron())
        with pytest.raises(ConcurrencyConflict):
            await uow.commit()


async def test_loans_round_trip_and_count_per_patron(adapters: Adapters) -> None:
    book, patron = new_book(copies=2), new_patron()
    await stored(adapters, book, patron)
    loan = loan_for(book, patron)
    async with adapters.lending() as uow:
        uow.loans.add(loan)
        await uow.commit()
    async with adapters.lending() as uow:
        loaded = await uow.loans.get(loan.id)
        assert loaded is not None
        assert (loaded.due_at, loaded.terms, loaded.barcode) == (
            loan.due_at,
            loan.terms,
            loan.barcode,
        )
        assert [x.id for x in await uow.loans.open_for_book(book.id)] == [loan.id]
        assert await uow.loans.record_of(patron.id, MONDAY) == (1, 0)
        assert await uow.loans.record_of(patron.id, loan.due_at + timedelta(seconds=1)) == (1, 1)
        copies = await uow.copies.shelf_copies(book.id)
        assert copies is not None
        assert {c.copy_id: c.on_loan for c in copies}[book.copies[0].id] is True
        assert await uow.copies.book_of_barcode(book.copies[1].barcode.value) == book.id
        borrower = await uow.patrons.borrower(patron.id)
        assert borrower is not None and borrower.category == "premium"
        assert await uow.patrons.patron_id_by_email(" ADA@example.org") == patron.id


async def test_a_copy_has_at_most_one_open_loan(adapters: Adapters) -> None:
    book, ada, bob = new_book(), new_patron(), new_patron("bob@example.org")
    await stored(adapters, book, ada, bob)
    async with adapters.lending() as uow:
        uow.loans.add(loan_for(book, ada))
        await uow.commit()
    async with adapters.lending() as uow:
        uow.loans.add(loan_for(book, bob))
        with pytest.raises(ConcurrencyConflict):
            await uow.commit()


async def test_a_fee_account_appends_to_its_ledger(adapters: Adapters) -> None:
    book, patron = new_book(), new_patron()
    await stored(adapters, book, patron)
    loan = loan_for(book, patron)
    async with adapters.lending() as uow:
        uow.loans.add(loan)
        await uow.commit()
    async with adapters.lending() as uow:
        account = await uow.accounts.for_patron(patron.id)
        assert account.balance == Money(0)
        account.assess_fine(loan.id, Money(125), MONDAY, "desk")
        await uow.commit()
    async with adapters.lending() as uow:
        account = await uow.accounts.for_patron(patron.id)
        account.receive_payment(Money(25), MONDAY, "desk")
        await uow.commit()
    async with adapters.lending() as uow:
        account = await uow.accounts.for_patron(patron.id)
        assert account.balance == Money(100)
        assert [e.amount for e in account.entries] == [Money(125), Money(25)]
    assert (await adapters.event_names())[-2:] == ["FineAssessed", "PaymentReceived"]
