"""Lending read models and filters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from shelfmark.seedwork.domain import Reason
from shelfmark.seedwork.money import Money


@dataclass(frozen=True)
class ShelfView:
    """A book's copies as lending sees them: each one that is not on the shelf ("on_loan" or
    "on_hold_shelf"), and how many holds wait for a copy."""

    states: dict[UUID, str]
    waiting: int


@dataclass(frozen=True)
class LoanFilter:
    patron_id: UUID | None = None
    book_id: UUID | None = None
    status: str | None = None


@dataclass(frozen=True)
class LoanView:
    id: UUID
    book_id: UUID
    copy_id: UUID
    barcode: str
    patron_id: UUID
    borrowed_at: datetime
    due_at: datetime
    renewals_left: int
    returned_at: datetime | None
    status: str
    fine: Money | None


@dataclass(frozen=True)
class EntryView:
    id: UUID
    kind: str
    amount: Money
    at: datetime
    loan_id: UUID | None


@dataclass(frozen=True)
class AccountView:
    patron_id: UUID
    balance: Money
    entries: list[EntryView]


@dataclass(frozen=True)
class BorrowerSummary:
    """What the desk sees of a patron's lending: open loans, balance and every block."""

    loans: list[LoanView]
    holds: list[HoldView]
    balance: Money
    blocks: list[Reason]


@dataclass(frozen=True)
class HoldView:
    id: UUID
    book_id: UUID
    patron_id: UUID
    placed_at: datetime
    status: str
    position: int | None
    queue_length: int
    copy_id: UUID | None
    pickup_deadline: datetime | None
    expires_at: datetime | None
