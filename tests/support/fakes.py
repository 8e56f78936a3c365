"""Hand-written in-memory fakes of our own ports, with the same semantics as the SQL adapters:
writes happen at commit, a stale version or a second open loan on a copy is a conflict,
and leaving without commit keeps nothing."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, Generic, Self, TypeVar
from uuid import UUID

from shelfmark.catalog.domain.model import Book
from shelfmark.catalog.domain.values import Barcode, Isbn
from shelfmark.lending.domain.checkout import ShelfCopy
from shelfmark.lending.domain.fees import FeeAccount
from shelfmark.lending.domain.holds import Hold, HoldStatus
from shelfmark.lending.domain.model import Loan, LoanStatus
from shelfmark.lending.domain.rules import Borrower
from shelfmark.patrons.domain.model import Patron
from shelfmark.patrons.domain.values import Email
from shelfmark.seedwork.application import ConcurrencyConflict
from shelfmark.seedwork.domain import AggregateRoot, DomainEvent

A = TypeVar("A", bound=AggregateRoot)


@dataclass
class InMemoryDatabase:
    books: dict[UUID, Book] = field(default_factory=dict)
    patrons: dict[UUID, Patron] = field(default_factory=dict)
    loans: dict[UUID, Loan] = field(default_factory=dict)
    accounts: dict[UUID, FeeAccount] = field(default_factory=dict)
    holds: dict[UUID, Hold] = field(default_factory=dict)
    outbox: list[DomainEvent] = field(default_factory=list)


class FakeRepository(Generic[A]):
    def __init__(self, table: dict[UUID, A]) -> None:
        self.table = table
        self.seen: dict[UUID, A] = {}
        self.new: set[UUID] = set()

    def _load(self, key: UUID) -> A | None:
        if key in self.seen:
            return self.seen[key]
        stored = self.table.get(key)
        if stored is None:
            return None
        loaded = copy.deepcopy(stored)
        self.seen[key] = loaded
        return loaded

    def add(self, aggregate: A) -> None:
        self.seen[aggregate.id] = aggregate
        self.new.add(aggregate.id)

    def check(self, pending: dict[UUID, A]) -> None:
        """Raises ConcurrencyConflict where the stored version moved on; extended per table."""
        for key, aggregate in pending.items():
            stored = self.table.get(key)
            if key in self.new and stored is not None:
                raise ConcurrencyConflict(f"{key} exists")
            if key not in self.new and (stored is None or stored.version != aggregate.version):
                raise ConcurrencyConflict(f"{key} changed meanwhile")

    def pending(self) -> dict[UUID, A]:
        return {k: a for k, a in self.seen.items() if a.pending_events}

    def write(self, pending: dict[UUID, A]) -> list[DomainEvent]:
        events: list[DomainEvent] = []
        for key, aggregate in pending.items():
            aggregate.version += 1
            events.extend(aggregate.pull_events())
            self.table[key] = copy.deepcopy(aggregate)
        self.new.clear()
        return events


class FakeBookRepository(FakeRepository[Book]):
    async def get(self, book_id: UUID) -> Book | None:
        return self._load(book_id)

    async def isbn_taken(self, isbn: Isbn) -> bool:
        return any(b.isbn == isbn for b in self.table.values())

    async def barcode_taken(self, barcode: Barcode) -> bool:
        return any(c.barcode == barcode for b in self.table.values() for c in b.copies)

    def check(self, pending: dict[UUID, Book]) -> None:
        super().check(pending)
        for key, book in pending.items():
            others = [b for k, b in self.table.items() if k != key]
            if book.isbn and any(b.isbn == book.isbn for b in others):
                raise ConcurrencyConflict("uq_books_isbn")


class FakePatronRepository(FakeRepository[Patron]):
    async def get(self, patron_id: UUID) -> Patron | None:
        return self._load(patron_id)

    async def email_taken(self, email: Email) -> bool:
        return any(p.email == email for p in self.table.values())

    def check(self, pending: dict[UUID, Patron]) -> None:
        super().check(pending)
        for key, patron in pending.items():
            if any(p.email == patron.email for k, p in self.table.items() if k != key):
                raise ConcurrencyConflict("uq_patrons_email")


class FakeLoanRepository(FakeRepository[Loan]):
    async def get(self, loan_id: UUID) -> Loan | None:
        return self._load(loan_id)

    async def open_for_book(self, book_id: UUID) -> list[Loan]:
        keys = [k for k, loan in self.table.items() if loan.book_id == book_id and loan.is_open]
        return [loan for k in keys if (loan := self._load(k)) is not None]

    async def last_returned_for_book(self, book_id: UUID) -> Loan | None:
        returned = [x for x in self.table.values() if x.book_id == book_id and x.returned_at]
        if not returned:
            return None
        return self._load(max(returned, key=lambda x: (x.returned_at, x.id)).id)

    async def has_open_loan_of(self, patron_id: UUID, book_id: UUID) -> bool:
        return any(
            x.patron_id == patron_id and x.book_id == book_id and x.is_open
            for x in self.table.values()
        )

    async def open_ids_due_before(
        self, instant: datetime, status: LoanStatus | None = None
    ) -> list[UUID]:
        due = [x for x in self.table.values() if x.is_open and x.due_at < instant]
        return [x.id for x in sorted(due, key=lambda x: x.due_at) if status in (None, x.status)]

    async def record_of(self, patron_id: UUID, now: datetime) -> tuple[int, int]:
        mine = [
            loan for loan in self.table.values() if loan.patron_id == patron_id and loan.is_open
        ]
        return len(mine), sum(1 for loan in mine if loan.due_at < now)

    def check(self, pending: dict[UUID, Loan]) -> None:
        super().check(pending)
        for key, loan in pending.items():
            if loan.is_open and any(
                other.copy_id == loan.copy_id and other.is_open
                for k, other in self.table.items()
                if k != key
            ):
                raise ConcurrencyConflict("uq_loans_open_copy")


class FakeHoldRepository(FakeRepository[Hold]):
    async def get(self, hold_id: UUID) -> Hold | None:
        return self._load(hold_id)

    def _where(self, keep: Callable[[Hold], bool]) -> list[Hold]:
        keys = [k for k, h in sorted(self.table.items(), key=lambda kv: kv[1].queue_number)]
        loaded = [h for k in keys if (h := self._load(k)) is not None]
        return [h for h in loaded if keep(self.table[h.id])]

    async def waiting_for_book(self, book_id: UUID) -> list[Hold]:
        return self._where(lambda h: h.book_id == book_id and h.status is HoldStatus.WAITING)

    async def active_for_patron(self, patron_id: UUID) -> list[Hold]:
        return self._where(lambda h: h.patron_id == patron_id and h.status.is_active)

    async def next_queue_number(self, book_id: UUID) -> int:
        numbers = [h.queue_number for h in self.table.values() if h.book_id == book_id]
        return max(numbers, default=0) + 1

    async def expiring_ids(self, now: datetime) -> list[UUID]:
        return [k for k, h in self.table.items() if h.is_expired(now)]

    def check(self, pending: dict[UUID, Hold]) -> None:
        super().check(pending)
        for key, hold in pending.items():
            others = [h for k, h in self.table.items() if k != key]
            if any(
                h.book_id == hold.book_id and h.queue_number == hold.queue_number for h in others
            ):
                raise ConcurrencyConflict("uq_holds_book_id_queue_number")
            if hold.status is HoldStatus.READY and any(
                h.status is HoldStatus.READY and h.copy_id == hold.copy_id for h in others
            ):
                raise ConcurrencyConflict("uq_holds_ready_copy")


class FakeFeeAccountRepository(FakeRepository[FeeAccount]):
    async def for_patron(self, patron_id: UUID) -> FeeAccount:
        account = self._load(patron_id)
        if account is None:
            account = FeeAccount(patron_id)
            self.add(account)
        return account


class FakeCopyAvailability:
    def __init__(self, db: InMemoryDatabase) -> None:
        self.db = db

    async def shelf_copies(self, book_id: UUID) -> list[ShelfCopy] | None:
        book = self.db.books.get(book_id)
        if book is None:
            return None
        out = {loan.copy_id for loan in self.db.loans.values() if loan.is_open}
        kept = {
            h.copy_id: h.patron_id for h in self.db.holds.values() if h.status is HoldStatus.READY
        }
        return [
            ShelfCopy(
                c.id,
                c.barcode.value,
                c.circulation.value,
                c.replacement_cost,
                c.id in out,
                kept.get(c.id),
            )
            for c in sorted(book.copies, key=lambda c: c.barcode.value)
        ]

    async def book_of_barcode(self, barcode: str) -> UUID | None:
        for book in self.db.books.values():
            if any(c.barcode.value == barcode for c in book.copies):
                return book.id
        return None


class FakePatronStanding:
    def __init__(self, db: InMemoryDatabase) -> None:
        self.db = db

    async def borrower(self, patron_id: UUID) -> Borrower | None:
        p = self.db.patrons.get(patron_id)
        if p is None:
            return None
        return Borrower(p.id, p.category.value, p.is_suspended, p.card_expires_on)

    async def patron_id_by_email(self, email: str) -> UUID | None:
        wanted = email.strip().lower()
        return next((p.id for p in self.db.patrons.values() if p.email.value == wanted), None)


class FakeUnitOfWork:
    """Base of the fakes: repositories are opened on enter; commit checks every pending
    aggregate first (as the database's constraints would) and only then writes them all."""

    def __init__(self, db: InMemoryDatabase) -> None:
        self.db = db

    def _open(self) -> Sequence[FakeRepository[Any]]:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        self._repositories = self._open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    async def commit(self) -> None:
        pending = [(repo, repo.pending()) for repo in self._repositories]
        for repo, aggregates in pending:
            repo.check(aggregates)
        for repo, aggregates in pending:
            self.db.outbox.extend(repo.write(aggregates))


class FakeCatalogUnitOfWork(FakeUnitOfWork):
    def _open(self) -> Sequence[FakeRepository[Any]]:
        self.books = FakeBookRepository(self.db.books)
        return [self.books]


class FakePatronsUnitOfWork(FakeUnitOfWork):
    def _open(self) -> Sequence[FakeRepository[Any]]:
        self.patrons = FakePatronRepository(self.db.patrons)
        return [self.patrons]


class FakeLendingUnitOfWork(FakeUnitOfWork):
    def _open(self) -> Sequence[FakeRepository[Any]]:
        self.loans = FakeLoanRepository(self.db.loans)
        self.accounts = FakeFeeAccountRepository(self.db.accounts)
        self.holds = FakeHoldRepository(self.db.holds)
        self.patrons = FakePatronStanding(self.db)
        self.copies = FakeCopyAvailability(self.db)
        return [self.loans, self.holds, self.accounts]
