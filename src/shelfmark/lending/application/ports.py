"""What the lending use cases need, named by role. Catalog and patrons data arrive through
`CopyAvailability` and `PatronStanding`, which lending defines and their adapters fill."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Protocol
from uuid import UUID

from shelfmark.lending.application.queries import (
    AccountView,
    HoldView,
    LoanFilter,
    LoanView,
    ShelfView,
)
from shelfmark.lending.domain.checkout import ShelfCopy
from shelfmark.lending.domain.fees import FeeAccount
from shelfmark.lending.domain.holds import Hold
from shelfmark.lending.domain.model import Loan, LoanStatus
from shelfmark.lending.domain.rules import Borrower, BorrowerRecord
from shelfmark.seedwork.application import Inbox, UnitOfWork
from shelfmark.seedwork.pagination import Page, PageRequest


class PatronStanding(Protocol):
    async def borrower(self, patron_id: UUID) -> Borrower | None:
        """The patron as lending sees them; within a command it also serialises that
        patron's concurrent checkouts (their loan limit holds under concurrency)."""
        ...

    async def patron_id_by_email(self, email: str) -> UUID | None: ...


class CopyAvailability(Protocol):
    async def shelf_copies(self, book_id: UUID) -> list[ShelfCopy] | None:
        """The book's copies with whether each is out; None when there is no such book."""
        ...

    async def book_of_barcode(self, barcode: str) -> UUID | None: ...


class LoanRepository(Protocol):
    async def get(self, loan_id: UUID) -> Loan | None: ...

    def add(self, loan: Loan) -> None: ...

    async def open_for_book(self, book_id: UUID) -> list[Loan]: ...

    async def last_returned_for_book(self, book_id: UUID) -> Loan | None: ...

    async def has_open_loan_of(self, patron_id: UUID, book_id: UUID) -> bool: ...

    async def open_ids_due_before(
        self, instant: datetime, status: LoanStatus | None = None
    ) -> list[UUID]: ...

    async def record_of(self, patron_id: UUID, now: datetime) -> tuple[int, int]:
        """(open loans, overdue loans) of the patron at `now`."""
        ...


class HoldRepository(Protocol):
    async def get(self, hold_id: UUID) -> Hold | None: ...

    def add(self, hold: Hold) -> None: ...

    async def waiting_for_book(self, book_id: UUID) -> list[Hold]:
        """In queue order."""
        ...

    async def active_for_patron(self, patron_id: UUID) -> list[Hold]: ...

    async def next_queue_number(self, book_id: UUID) -> int: ...

    async def expiring_ids(self, now: datetime) -> list[UUID]: ...


class FeeAccountRepository(Protocol):
    async def for_patron(self, patron_id: UUID) -> FeeAccount:
        """The patron's account; a new, empty one when they have none yet."""
        ...


class LendingUnitOfWork(UnitOfWork, Protocol):
    @property
    def loans(self) -> LoanRepository: ...

    @property
    def accounts(self) -> FeeAccountRepository: ...

    @property
    def holds(self) -> HoldRepository: ...

    @property
    def patrons(self) -> PatronStanding: ...

    @property
    def copies(self) -> CopyAvailability: ...

    @property
    def inbox(self) -> Inbox: ...


class LoanReader(Protocol):
    async def holds_of_patron(self, patron_id: UUID, active_only: bool) -> list[HoldView]: ...

    async def get(self, loan_id: UUID, now: datetime) -> LoanView | None: ...

    async def list(
        self, filters: LoanFilter, page: PageRequest, now: datetime
    ) -> Page[LoanView]: ...

    async def shelf(self, book_id: UUID, copy_ids: Iterable[UUID]) -> ShelfView:
        """Where the book's copies (`copy_ids`, the catalogue's) are, and its waiting holds."""
        ...

    async def hold(self, hold_id: UUID) -> HoldView | None: ...

    async def account(self, patron_id: UUID) -> AccountView: ...

    async def borrower(
        self, patron_id: UUID, now: datetime
    ) -> tuple[Borrower, BorrowerRecord] | None: ...
