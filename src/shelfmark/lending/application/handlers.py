"""Lending command handlers for loans and fees: load, call the domain, commit."""

from __future__ import annotations

from datetime import datetime

from shelfmark.lending.application.circulation import offer_freed_copy
from shelfmark.lending.application.commands import (
    BorrowBook,
    PayOutCredit,
    RecordPayment,
    RenewLoan,
    ReturnBook,
    ReturnLoan,
    WaiveFees,
)
from shelfmark.lending.application.ports import LendingUnitOfWork
from shelfmark.lending.application.resolve import (
    known_patron,
    loan_of_book,
    patron_of,
    standing_of,
)
from shelfmark.lending.domain.checkout import REFERENCE, checkout
from shelfmark.lending.domain.errors import BookNotFound, CopyNotFound, LoanNotFound
from shelfmark.lending.domain.fees import LedgerEntry
from shelfmark.lending.domain.model import Loan, LoanId
from shelfmark.lending.domain.policies import LendingPolicy
from shelfmark.lending.domain.queue import holds_waiting_refusal
from shelfmark.lending.domain.rules import RENEWAL_RULES, failing
from shelfmark.seedwork.clock import Clock
from shelfmark.seedwork.money import Money


async def borrow_book(
    command: BorrowBook, uow: LendingUnitOfWork, clock: Clock, policy: LendingPolicy
) -> LoanId:
    """Lends a copy; borrowing a book the patron holds fulfils that hold."""
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
        for hold in await uow.holds.active_for_patron(patron_id):
            if hold.book_id == book_id:
                kept = hold.copy_id
                hold.fulfil(loan.id, now, command.actor)
                if kept is not None and kept != loan.copy_id:
                    await offer_freed_copy(uow, book_id, kept, policy, now, command.actor)
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
    """Closes the loan, charges the fine (and refunds a lost copy that came back in time), and
    hands the copy to the next hold in line, all in one transaction."""
    if not loan.is_open:
        return
    fine = loan.return_copy(returned_at or now, policy.library.calendar, now, actor)
    account = await uow.accounts.for_patron(loan.patron_id)
    account.assess_fine(loan.id, fine, now, actor)
    account.refund(loan.id, loan.refund_due(policy.library.lost_refund_days), now, actor)
    await offer_freed_copy(uow, loan.book_id, loan.copy_id, policy, now, actor)
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
        copies = await uow.copies.shelf_copies(loan.book_id) or []
        waiting = len(await uow.holds.waiting_for_book(loan.book_id))
        on_shelf = sum(1 for c in copies if c.on_shelf and c.circulation != REFERENCE)
        standing = await standing_of(uow, loan.patron_id, policy, now)
        refusals = failing(RENEWAL_RULES, standing)
        if (holds_waiting := holds_waiting_refusal(waiting, on_shelf)) is not None:
            refusals.append(holds_waiting)
        fine = loan.renew(refusals, policy.library.calendar, now, command.actor)
        account = await uow.accounts.for_patron(loan.patron_id)
        account.assess_fine(loan.id, fine, now, command.actor)
        await uow.commit()
    return loan.id


async def record_payment(
    command: RecordPayment, uow: LendingUnitOfWork, clock: Clock
) -> LedgerEntry:
    amount = Money.parse(command.amount)
    async with uow:
        await known_patron(uow, command.patron_id)
        account = await uow.accounts.for_patron(command.patron_id)
        entry = account.receive_payment(amount, clock.now(), command.actor)
        await uow.commit()
    return entry


async def pay_out_credit(
    command: PayOutCredit, uow: LendingUnitOfWork, clock: Clock
) -> LedgerEntry:
    amount = Money.parse(command.amount)
    async with uow:
        await known_patron(uow, command.patron_id)
        account = await uow.accounts.for_patron(command.patron_id)
        entry = account.pay_out(amount, clock.now(), command.actor)
        await uow.commit()
    return entry


async def waive_fees(command: WaiveFees, uow: LendingUnitOfWork, clock: Clock) -> LedgerEntry:
    amount = Money.parse(command.amount)
    async with uow:
        await known_patron(uow, command.patron_id)
        account = await uow.accounts.for_patron(command.patron_id)
        entry = account.waive(amount, command.reason, clock.now(), command.actor)
        await uow.commit()
    return entry
