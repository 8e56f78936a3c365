"""Response shapes shared by more than one router."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel

from shelfmark.lending.application.queries import LoanView
from shelfmark.patrons.application.queries import PatronView


class LoanOut(BaseModel):
    id: UUID
    book_id: UUID
    copy_id: UUID
    barcode: str
    patron_id: UUID
    borrowed_at: datetime
    due_at: datetime
    renewals_left: int
    returned_at: datetime | None
    status: Literal["active", "overdue", "returned", "lost"]
    fine: str | None

    @classmethod
    def of(cls, loan: LoanView) -> LoanOut:
        return cls(
            id=loan.id,
            book_id=loan.book_id,
            copy_id=loan.copy_id,
            barcode=loan.barcode,
            patron_id=loan.patron_id,
            borrowed_at=loan.borrowed_at,
            due_at=loan.due_at,
            renewals_left=loan.renewals_left,
            returned_at=loan.returned_at,
            status=loan.status,
            fine=str(loan.fine) if loan.fine is not None else None,
        )


class PatronOut(BaseModel):
    id: UUID
    first_name: str
    last_name: str
    name: str
    email: str
    category: str
    card_expires_on: date
    is_suspended: bool
    suspended_reason: str | None
    registered_at: datetime

    @classmethod
    def of(cls, patron: PatronView) -> PatronOut:
        return cls(
            id=patron.id,
            first_name=patron.first_name,
            last_name=patron.last_name,
            name=patron.name,
            email=patron.email,
            category=patron.category,
            card_expires_on=patron.card_expires_on,
            is_suspended=patron.suspended_reason is not None,
            suspended_reason=patron.suspended_reason,
            registered_at=patron.registered_at,
        )
