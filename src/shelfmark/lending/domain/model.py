"""The Loan aggregate: one copy lent to one patron, on terms fixed when it was opened."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import NewType

from shelfmark.lending.domain.calendar import LibraryCalendar
from shelfmark.lending.domain.errors import RenewalRefused
from shelfmark.lending.domain.events import (
    BookBorrowed,
    BookReturned,
    LoanAgedToLost,
    LoanBecameOverdue,
    LoanFallingDue,
    LoanRenewed,
)
from shelfmark.lending.domain.fines import FineTerms, overdue_fine
from shelfmark.seedwork.domain import AggregateRoot, InvalidValue, Reason
from shelfmark.seedwork.money import Money

LoanId = NewType("LoanId", uuid.UUID)
NO_FINE = Money(0)
MAX_DUE_AHEAD = timedelta(days=366)


class LoanStatus(StrEnum):
    ACTIVE = "active"
    OVERDUE = "overdue"
    RETURNED = "returned"
    LOST = "lost"


def status_at(
    status: LoanStatus, due_at: datetime, returned_at: datetime | None, now: datetime
) -> LoanStatus:
    """An active loan still open past its due date is overdue (the read side uses this too,
    without building the aggregate)."""
    if status is LoanStatus.ACTIVE and returned_at is None and now > due_at:
        return LoanStatus.OVERDUE
    return status


def renewals_left(allowed: int, used: int) -> int:
    return max(allowed - used, 0)


@dataclass(frozen=True)
class LoanTerms:
    """The policy numbers snapshotted on the loan: a later policy change never touches it."""

    loan_period_days: int
    renewals_allowed: int
    fines: FineTerms


class Loan(AggregateRoot):
    id: LoanId

    def __init__(
        self,
        id: LoanId,
        *,
        book_id: uuid.UUID,
        copy_id: uuid.UUID,
        barcode: str,
        patron_id: uuid.UUID,
        borrowed_at: datetime,
        due_at: datetime,
        terms: LoanTerms,
        replacement_cost: Money,
        renewals_used: int = 0,
        fines_assessed: Money = NO_FINE,
        returned_at: datetime | None = None,
        status: LoanStatus = LoanStatus.ACTIVE,
        fine: Money | None = None,
        lost_at: datetime | None = None,
        due_soon_notice_for: datetime | None = None,
    ) -> None:
        super().__init__()
        self.id = id
        self.book_id = book_id
        self.copy_id = copy_id
        self.barcode = barcode
        self.patron_id = patron_id
        self.borrowed_at = borrowed_at
        self.due_at = due_at
        self.terms = terms
        self.replacement_cost = replacement_cost
        self.renewals_used = renewals_used
        self.fines_assessed = fines_assessed
        self.returned_at = returned_at
        self.status = status
        self.fine = fine
        self.lost_at = lost_at
        self.due_soon_notice_for = due_soon_notice_for

    @classmethod
    def open(
        cls,
        *,
        book_id: uuid.UUID,
        copy_id: uuid.UUID,
        barcode: str,
        patron_id: uuid.UUID,
        terms: LoanTerms,
        replacement_cost: Money,
        calendar: LibraryCalendar,
        now: datetime,
        actor: str,
        due_at: datetime | None = None,
    ) -> Loan:
        """Due at the end of the loan period's last day, past closed days, unless staff set it."""
        if due_at is not None and not now < due_at <= now + MAX_DUE_AHEAD:
            raise InvalidValue("due_at", "a due date lies in the future, within a year")
        loan = cls(
            LoanId(uuid.uuid4()),
            book_id=book_id,
            copy_id=copy_id,
            barcode=barcode,
            patron_id=patron_id,
            borrowed_at=now,
            due_at=due_at or calendar.deadline(now, terms.loan_period_days),
            terms=terms,
            replacement_cost=replacement_cost,
        )
        loan.record(
            BookBorrowed(
                aggregate_id=loan.id,
                occurred_at=now,
                actor=actor,
                book_id=book_id,
                copy_id=copy_id,
                patron_id=patron_id,
                due_at=loan.due_at,
                due_set_by_staff=due_at is not None,
            )
        )
        return loan

    @property
    def is_open(self) -> bool:
        return self.returned_at is None

    @property
    def renewals_left(self) -> int:
        return renewals_left(self.terms.renewals_allowed, self.renewals_used)

    def is_overdue(self, now: datetime) -> bool:
        return self.is_open and now > self.due_at

    def status_at(self, now: datetime) -> LoanStatus:
        return status_at(self.status, self.due_at, self.returned_at, now)

    def fine_due(self, at: datetime, calendar: LibraryCalendar) -> Money:
        """The fine accrued by `at` not yet assessed (the per-loan cap holds over all of them)."""
        accrued = overdue_fine(self.due_at, at, self.terms.fines, calendar, self.replacement_cost)
        return max(accrued - self.fines_assessed, Money.zero())

    def renewal_refusals(self) -> list[Reason]:
        """The loan's own reasons to refuse a renewal; the patron's are checked by the rules."""
        if not self.is_open:
            return [Reason("LOAN_ALREADY_RETURNED", "the loan has already been returned")]
        if self.status is LoanStatus.LOST:
            return [Reason("LOAN_LOST", "a loan aged to lost is settled by returning the copy")]
        if self.renewals_left == 0:
            return [
                Reason(
                    "RENEWAL_LIMIT_REACHED",
                    f"all {self.terms.renewals_allowed} renewals have been used",
                )
            ]
        return []

    def renew(
        self, refusals: list[Reason], calendar: LibraryCalendar, now: datetime, actor: str
    ) -> Money:
        """Extends the due date by one loan period (past closed days, never earlier).

        `refusals` are the patron's failing rules; with the loan's own they are raised together.
        Returns the fine accrued so far on an overdue loan, which the caller charges now.
        """
        reasons = self.renewal_refusals() + refusals
        if reasons:
            raise RenewalRefused(reasons)
        fine = self.fine_due(now, calendar)
        self.fines_assessed += fine
        self.due_at = max(self.due_at, calendar.deadline(self.due_at, self.terms.loan_period_days))
        self.renewals_used += 1
        # A loan so late that its new due date has passed too stays overdue: registered once.
        if self.status is LoanStatus.OVERDUE and not self.is_overdue(now):
            self.status = LoanStatus.ACTIVE
        self.record(
            LoanRenewed(
                aggregate_id=self.id,
                occurred_at=now,
                actor=actor,
                patron_id=self.patron_id,
                due_at=self.due_at,
                renewals_left=self.renewals_left,
            )
        )
        return fine

    def return_copy(
        self, returned_at: datetime, calendar: LibraryCalendar, now: datetime, actor: str
    ) -> Money:
        """Closes the loan and returns the fine to charge. Returning twice changes nothing."""
        if not self.is_open:
            return Money.zero()
        if returned_at > now:
            raise InvalidValue("returned_at", "returned_at must not lie in the future")
        if returned_at < self.borrowed_at:
            raise InvalidValue("returned_at", "returned_at must not be before the loan began")
        fine = self.fine_due(returned_at, calendar)
        self.fines_assessed += fine
        self.returned_at = returned_at
        self.status = LoanStatus.RETURNED
        self.fine = self.fines_assessed
        self.record(
            BookReturned(
                aggregate_id=self.id,
                occurred_at=now,
                actor=actor,
                book_id=self.book_id,
                copy_id=self.copy_id,
                patron_id=self.patron_id,
                returned_at=returned_at,
                fine=fine,
            )
        )
        return fine

    def register_overdue(self, now: datetime, actor: str) -> bool:
        """Marks an open loan past its due date as overdue, once; a returned loan never is."""
        if self.status is not LoanStatus.ACTIVE or not self.is_overdue(now):
            return False
        self.status = LoanStatus.OVERDUE
        self.record(
            LoanBecameOverdue(
                aggregate_id=self.id,
                occurred_at=now,
                actor=actor,
                book_id=self.book_id,
                patron_id=self.patron_id,
                due_at=self.due_at,
            )
        )
        return True

    def age_to_lost(self, after_days: int, now: datetime, actor: str) -> bool:
        """An open loan `after_days` past due is presumed lost, once."""
        if not self.is_open or self.status is LoanStatus.LOST:
            return False
        if now <= self.due_at + timedelta(days=after_days):
            return False
        self.status = LoanStatus.LOST
        self.lost_at = now
        self.record(
            LoanAgedToLost(
                aggregate_id=self.id,
                occurred_at=now,
                actor=actor,
                patron_id=self.patron_id,
                copy_id=self.copy_id,
                replacement_cost=self.replacement_cost,
            )
        )
        return True

    def notify_due_soon(
        self, notice_days: int, calendar: LibraryCalendar, now: datetime, actor: str
    ) -> bool:
        """Records a due-soon notice when the due date is `notice_days` days off or nearer;
        once per due date (a renewal's new due date gets its own notice)."""
        if self.status is not LoanStatus.ACTIVE or self.due_soon_notice_for == self.due_at:
            return False
        if now > self.due_at:
            return False
        days_left = (calendar.local_date(self.due_at) - calendar.local_date(now)).days
        if days_left > notice_days:
            return False
        self.due_soon_notice_for = self.due_at
        self.record(
            LoanFallingDue(
                aggregate_id=self.id,
                occurred_at=now,
                actor=actor,
                book_id=self.book_id,
                patron_id=self.patron_id,
                due_at=self.due_at,
            )
        )
        return True

    def refund_due(self, refund_days: int) -> Money:
        """The replacement cost refunded when a copy aged to lost came back within the window."""
        if self.lost_at is None or self.returned_at is None:
            return Money.zero()
        if self.returned_at > self.lost_at + timedelta(days=refund_days):
            return Money.zero()
        return self.replacement_cost
