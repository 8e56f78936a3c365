"""Lending domain events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from shelfmark.seedwork.domain import DomainEvent
from shelfmark.seedwork.money import Money


@dataclass(frozen=True, kw_only=True)
class BookBorrowed(DomainEvent):
    """A loan was opened; `aggregate_id` is the loan."""

    book_id: UUID
    copy_id: UUID
    patron_id: UUID
    due_at: datetime
    due_set_by_staff: bool = False

    @property
    def is_audited(self) -> bool:
        """A due date staff chose instead of the policy's is an override."""
        return self.due_set_by_staff


@dataclass(frozen=True, kw_only=True)
class LoanRenewed(DomainEvent):
    patron_id: UUID
    due_at: datetime
    renewals_left: int


@dataclass(frozen=True, kw_only=True)
class BookReturned(DomainEvent):
    """A loan was closed, with the fine assessed at return (0.00 when on time)."""

    book_id: UUID
    copy_id: UUID
    patron_id: UUID
    returned_at: datetime
    fine: Money

    @property
    def is_audited(self) -> bool:
        """A return dated earlier than it was recorded (a book drop) lowers the fine: audited."""
        return self.returned_at < self.occurred_at


@dataclass(frozen=True, kw_only=True)
class FineAssessed(DomainEvent):
    """`aggregate_id` is the patron's fee account."""

    loan_id: UUID
    amount: Money


@dataclass(frozen=True, kw_only=True)
class PaymentReceived(DomainEvent):
    audited = True

    amount: Money


@dataclass(frozen=True, kw_only=True)
class LoanBecameOverdue(DomainEvent):
    book_id: UUID
    patron_id: UUID
    due_at: datetime


@dataclass(frozen=True, kw_only=True)
class LoanAgedToLost(DomainEvent):
    patron_id: UUID
    copy_id: UUID
    replacement_cost: Money


@dataclass(frozen=True, kw_only=True)
class LoanFallingDue(DomainEvent):
    """The due date is near: the patron is sent a due-soon notice (once per due date)."""

    book_id: UUID
    patron_id: UUID
    due_at: datetime


@dataclass(frozen=True, kw_only=True)
class HoldPlaced(DomainEvent):
    book_id: UUID
    patron_id: UUID


@dataclass(frozen=True, kw_only=True)
class HoldReadyForPickup(DomainEvent):
    book_id: UUID
    patron_id: UUID
    copy_id: UUID
    pickup_deadline: datetime


@dataclass(frozen=True, kw_only=True)
class HoldFulfilled(DomainEvent):
    book_id: UUID
    patron_id: UUID
    loan_id: UUID


@dataclass(frozen=True, kw_only=True)
class HoldCancelled(DomainEvent):
    book_id: UUID
    patron_id: UUID


@dataclass(frozen=True, kw_only=True)
class HoldExpired(DomainEvent):
    book_id: UUID
    patron_id: UUID


@dataclass(frozen=True, kw_only=True)
class LostItemCharged(DomainEvent):
    """`aggregate_id` is the fee account: replacement cost and processing fee charged."""

    loan_id: UUID
    replacement_cost: Money
    processing_fee: Money


@dataclass(frozen=True, kw_only=True)
class FeeWaived(DomainEvent):
    audited = True

    amount: Money
    reason: str


@dataclass(frozen=True, kw_only=True)
class CreditPaidOut(DomainEvent):
    """Staff handed back money the library owed the patron (a credit left by a refund)."""

    audited = True

    amount: Money


@dataclass(frozen=True, kw_only=True)
class FeeRefunded(DomainEvent):
    loan_id: UUID
    amount: Money
