"""Lookups the lending handlers share: who the borrower is, which loan a desk return means."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from shelfmark.lending.application.ports import LendingUnitOfWork
from shelfmark.lending.domain.errors import LoanNotFound, PatronNotFound
from shelfmark.lending.domain.model import Loan
from shelfmark.lending.domain.policies import LendingPolicy
from shelfmark.lending.domain.rules import BorrowerRecord, Standing
from shelfmark.seedwork.domain import InvalidValue


async def patron_of(uow: LendingUnitOfWork, patron_id: UUID | None, email: str | None) -> UUID:
    if patron_id is None and email:
        patron_id = await uow.patrons.patron_id_by_email(email)
        if patron_id is None:
            raise PatronNotFound(f"no patron has the email {email}")
    if patron_id is None:
        raise InvalidValue("patron_id", "give patron_id or borrower_email")
    return patron_id


async def known_patron(uow: LendingUnitOfWork, patron_id: UUID) -> None:
    if await uow.patrons.borrower(patron_id) is None:
        raise PatronNotFound(f"no patron {patron_id}")


async def standing_of(
    uow: LendingUnitOfWork, patron_id: UUID, policy: LendingPolicy, now: datetime
) -> Standing:
    borrower = await uow.patrons.borrower(patron_id)
    if borrower is None:
        raise PatronNotFound(f"no patron {patron_id}")
    open_loans, overdue = await uow.loans.record_of(patron_id, now)
    account = await uow.accounts.for_patron(patron_id)
    record = BorrowerRecord(open_loans, overdue, account.balance)
    return Standing(borrower, record, policy, policy.library.calendar.local_date(now))


async def loan_of_book(
    uow: LendingUnitOfWork, book_id: UUID, barcode: str | None, email: str | None
) -> Loan:
    """The open loan the barcode or borrower picks; with a single open loan, that one.

    When none is open, the book's last return is the answer (a second scan of a returned book
    is a harmless no-op), provided it matches what was given.
    """
    patron_id = await patron_of(uow, None, email) if email else None

    def matching(candidates: list[Loan]) -> list[Loan]:
        return [
            loan
            for loan in candidates
            if (not barcode or loan.barcode == barcode)
            and (patron_id is None or loan.patron_id == patron_id)
        ]

    loans = matching(await uow.loans.open_for_book(book_id))
    if not loans:
        last = await uow.loans.last_returned_for_book(book_id)
        loans = matching([last] if last else [])
    if not loans:
        raise LoanNotFound(f"book {book_id} has no matching loan to return")
    if len(loans) > 1:
        raise InvalidValue("barcode", "several copies are on loan: give barcode or borrower_email")
    return loans[0]
