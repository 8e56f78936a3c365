"""Lending commands."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID


@dataclass(frozen=True)
class BorrowBook:
    """Lend a copy: of `book_id` (any copy, or the named `barcode`), or the copy `barcode` names.

    The borrower is `patron_id` or, as the seed's API allows, `borrower_email`.
    """

    book_id: UUID | None = None
    barcode: str | None = None
    patron_id: UUID | None = None
    borrower_email: str | None = None
    due_at: datetime | None = None
    actor: str = "system"


@dataclass(frozen=True)
class ReturnLoan:
    loan_id: UUID
    returned_at: datetime | None = None
    actor: str = "system"


@dataclass(frozen=True)
class ReturnBook:
    """Return the open loan of a book; `barcode` or `borrower_email` picks one of several."""

    book_id: UUID
    barcode: str | None = None
    borrower_email: str | None = None
    returned_at: datetime | None = None
    actor: str = "system"


@dataclass(frozen=True)
class RenewLoan:
    loan_id: UUID
    actor: str = "system"


@dataclass(frozen=True)
class RecordPayment:
    patron_id: UUID
    amount: Decimal
    actor: str = "system"


@dataclass(frozen=True)
class PayOutCredit:
    """Staff hand back money the library owes a patron (a credit left by a refund)."""

    patron_id: UUID
    amount: Decimal
    actor: str = "system"


@dataclass(frozen=True)
class WaiveFees:
    """Staff forgive an amount of a patron's balance, saying why."""

    patron_id: UUID
    amount: Decimal
    reason: str
    actor: str = "system"


@dataclass(frozen=True)
class PlaceHold:
    book_id: UUID
    patron_id: UUID
    open_ended: bool = False
    actor: str = "system"


@dataclass(frozen=True)
class CancelHold:
    hold_id: UUID
    actor: str = "system"
