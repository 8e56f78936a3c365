"""Lending command handlers: load, call the domain, commit."""

from __future__ import annotations

from datetime import datetime

from shelfmark.lending.application.commands import (
    BorrowBook,
    RecordPayment,
    RenewLoan,
    ReturnBook,
    ReturnLoan,
)
from shelfmark.lending.application.ports import LendingUnitOfWork
from shelfmark.lending.application.resolve import loan_of_book, patron_of, standing_of
from shelfmark.lending.domain.checkout import checkout
from shelfmark.lending.domain.errors import BookNotFound, CopyNotFound, LoanNotFound
from shelfmark.lending.domain.fees import LedgerEntry
from shelfmark.lending.domain.model import Loan, LoanId
from shelfmark.lending.domain.policies import LendingPolicy
from shelfmark.lending.domain.rules import RENEWAL_RULES, failing
from shelfmark.seedwork.clock import Clock
from shelfmark.seedwork.money import Money


async def borrow_book(
    command: BorrowBook, uow: LendingUnitOfWork, clock: Clock, policy: LendingPolicy
) -> LoanId:
    now = clock.now()
    async with uow:
        book_id = command.book_id or await uow.copies.book_of_barcode(command.barcode or "")
        if book_id is None:
            raise CopyNotFound(f"no copy has barcode {command.barcode}")
        copies = await uow.copies.shelf_copies(book_id)
        if copies is None:
            raise BookNotFound(f"no book {book_id}")
        patron_id = await patron_of(uow, command.patron_id, command.borrower_email)
        loan = checkout(
            book_id=book_id,
            copies=copies,
            standing=await standing_of(uow, patron_id, policy, now),
            barcode=command.barcode,
            now=now,
            actor=command.actor,
            due_at=command.due_at,
        )
        uow.loans.add(loan)
        await uow.commit()
    return loan.id


async def _close(
    uow: LendingUnitOfWork,
    loan: Loan,
    returned_at: datetime | None,
    policy: LendingPolicy,
    now: datetime,
    actor: str,
) -> None:
    fine = loan.return_copy(returned_at or now, policy.library.calendar, now, actor)
    account = await uow.accounts.for_patron(loan.patron_id)
    account.assess_fine(loan.id, fine, now, actor)
    await uow.commit()


async def return_loan(
    command: ReturnLoan, uow: LendingUnitOfWork, clock: Clock, policy: LendingPolicy
) -> LoanId:
    async with uow:
        loan = await uow.loans.get(command.loan_id)
        if loan is None:
            raise LoanNotFound(f"no loan {command.loan_id}")
        await _close(uow, loan, command.returned_at, policy, clock.now(), command.actor)
    return loan.id


async def return_book(
    command: ReturnBook, uow: LendingUnitOfWork, clock: Clock, policy: LendingPolicy
) -> LoanId:
    async with uow:
        loan = await loan_of_book(uow, command.book_id, command.barcode, command.borrower_email)
        await _close(uow, loan, command.returned_at, policy, clock.now(), command.actor)
    return loan.id


async def renew_loan(
    command: RenewLoan, uow: LendingUnitOfWork, clock: Clock, policy: LendingPolicy
) -> LoanId:
    now = clock.now()
    async with uow:
        loan = await uow.loans.get(command.loan_id)
        if loan is None:
            raise LoanNotFound(f"no loan {command.loan_id}")
        standing = await standing_of(uow, loan.patron_id, policy, now)
        fine = loan.renew(
            failing(RENEWAL_RULES, standing), policy.library.calendar, now, command.actor
        )
        account = await uow.accounts.for_patron(loan.patron_id)
        account.assess_fine(loan.id, fine, now, command.actor)
        await uow.commit()
    return loan.id


async def record_payment(
    command: RecordPayment, uow: LendingUnitOfWork, clock: Clock
) -> LedgerEntry:
    amount = Money.parse(command.amount)
    async with uow:
        await patron_of(uow, command.patron_id, None)
        account = await uow.accounts.for_patron(command.patron_id)
        entry = account.receive_payment(amount, clock.now(), command.actor)
        await uow.commit()
    return entry
