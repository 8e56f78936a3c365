"""Lending endpoints: borrow, return, renew, loans, fee accounts, payments and payouts."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal, Self
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, model_validator

from shelfmark.entrypoints.http.access import CallerDep
from shelfmark.entrypoints.http.deps import App
from shelfmark.entrypoints.http.fields import BarcodeIn, EmailIn, Instant, Text
from shelfmark.entrypoints.http.responses import PageOut, page_out, with_etag
from shelfmark.entrypoints.http.schemas import LoanOut
from shelfmark.lending.application.commands import (
    BorrowBook,
    PayOutCredit,
    RecordPayment,
    RenewLoan,
    ReturnBook,
    ReturnLoan,
    WaiveFees,
)
from shelfmark.lending.application.queries import LoanFilter
from shelfmark.lending.domain.errors import LoanNotFound, PatronNotFound
from shelfmark.lending.domain.fees import LedgerEntry
from shelfmark.seedwork.infrastructure.reading import one_read_connection
from shelfmark.seedwork.pagination import PageRequest, decode_cursor

router = APIRouter(tags=["lending"])

StatusIn = Literal["active", "overdue", "returned", "lost"]


class Borrowing(BaseModel):
    model_config = ConfigDict(extra="forbid")
    patron_id: UUID | None = None
    borrower_email: EmailIn | None = None
    barcode: BarcodeIn | None = None

    @model_validator(mode="after")
    def _names_a_borrower(self) -> Self:
        if self.patron_id is None and self.borrower_email is None:
            raise ValueError("give patron_id or borrower_email")
        return self


class NewLoan(BaseModel):
    model_config = ConfigDict(extra="forbid")
    patron_id: UUID
    book_id: UUID | None = None
    barcode: BarcodeIn | None = None
    due_at: Instant | None = None

    @model_validator(mode="after")
    def _names_a_copy(self) -> Self:
        if self.book_id is None and self.barcode is None:
            raise ValueError("give book_id or barcode")
        return self


class BookReturn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    barcode: BarcodeIn | None = None
    borrower_email: EmailIn | None = None
    returned_at: Instant | None = None


class LoanReturn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    returned_at: Instant | None = None


class Amount(BaseModel):
    """A payment, or a payout of a credit."""

    model_config = ConfigDict(extra="forbid")
    amount: Decimal = Field(gt=0, max_digits=9, decimal_places=2)


class Waiver(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: Decimal = Field(gt=0, max_digits=9, decimal_places=2)
    reason: Text = Field(min_length=1, max_length=500)


class EntryOut(BaseModel):
    id: UUID
    kind: str
    amount: str
    at: datetime
    loan_id: UUID | None


class AccountOut(BaseModel):
    patron_id: UUID
    balance: str
    entries: list[EntryOut]


async def _loan(app: App, loan_id: UUID) -> LoanOut:
    loan = await app.readers.loans.get(loan_id, app.clock.now())
    if loan is None:
        raise LoanNotFound(f"no loan {loan_id}")
    return LoanOut.of(loan)


async def _loans_page(
    app: App, response: Response, filters: LoanFilter, limit: int, cursor: str | None
) -> PageOut[LoanOut]:
    page = await app.readers.loans.list(
        filters, PageRequest(limit, decode_cursor(cursor, datetime, UUID)), app.clock.now()
    )
    return page_out(response, [LoanOut.of(v) for v in page.items], page.next_cursor)


Limit = Annotated[int, Query(ge=1, le=200)]
Cursor = Annotated[str | None, Query(max_length=1000)]


@router.post("/books/{book_id}/borrow", status_code=status.HTTP_201_CREATED, response_model=LoanOut)
async def borrow(book_id: UUID, body: Borrowing, app: App, caller: CallerDep) -> LoanOut:
    loan_id = await app.execute(
        BorrowBook(
            book_id=book_id,
            barcode=body.barcode,
            patron_id=body.patron_id,
            borrower_email=body.borrower_email,
            actor=caller.actor,
        )
    )
    return await _loan(app, loan_id)


@router.post("/books/{book_id}/return", response_model=LoanOut)
async def return_book(
    book_id: UUID, app: App, caller: CallerDep, body: BookReturn | None = None
) -> LoanOut:
    body = body or BookReturn()
    loan_id = await app.execute(
        ReturnBook(book_id, body.barcode, body.borrower_email, body.returned_at, caller.actor)
    )
    return await _loan(app, loan_id)


@router.get("/loans", response_model=PageOut[LoanOut])
async def list_loans(
    app: App,
    response: Response,
    patron_id: UUID | None = None,
    book_id: UUID | None = None,
    status: StatusIn | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> PageOut[LoanOut]:
    return await _loans_page(app, response, LoanFilter(patron_id, book_id, status), limit, cursor)


@router.post("/loans", status_code=status.HTTP_201_CREATED, response_model=LoanOut)
async def open_loan(body: NewLoan, app: App, caller: CallerDep, response: Response) -> LoanOut:
    loan_id = await app.execute(
        BorrowBook(
            book_id=body.book_id,
            barcode=body.barcode,
            patron_id=body.patron_id,
            due_at=body.due_at,
            actor=caller.actor,
        )
    )
    response.headers["Location"] = f"/loans/{loan_id}"
    return await _loan(app, loan_id)


@router.get("/loans/{loan_id}", response_model=LoanOut)
async def get_loan(loan_id: UUID, app: App, request: Request) -> Response:
    return with_etag(request, await _loan(app, loan_id))


@router.post("/loans/{loan_id}/renew", response_model=LoanOut)
async def renew(loan_id: UUID, app: App, caller: CallerDep) -> LoanOut:
    await app.execute(RenewLoan(loan_id, caller.actor))
    return await _loan(app, loan_id)


@router.post("/loans/{loan_id}/return", response_model=LoanOut)
async def return_loan(
    loan_id: UUID, app: App, caller: CallerDep, body: LoanReturn | None = None
) -> LoanOut:
    returned_at = body.returned_at if body else None
    await app.execute(ReturnLoan(loan_id, returned_at, caller.actor))
    return await _loan(app, loan_id)


@router.get("/patrons/{patron_id}/loans", response_model=PageOut[LoanOut])
async def patron_loans(
    patron_id: UUID,
    app: App,
    response: Response,
    status: StatusIn | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> PageOut[LoanOut]:
    async with one_read_connection(app.engines.read):
        await _known_patron(app, patron_id)
        return await _loans_page(app, response, LoanFilter(patron_id, None, status), limit, cursor)


@router.get("/patrons/{patron_id}/account", response_model=AccountOut)
async def account(patron_id: UUID, app: App) -> AccountOut:
    await _known_patron(app, patron_id)
    view = await app.readers.loans.account(patron_id)
    return AccountOut(
        patron_id=view.patron_id,
        balance=str(view.balance),
        entries=[
            EntryOut(id=e.id, kind=e.kind, amount=str(e.amount), at=e.at, loan_id=e.loan_id)
            for e in view.entries
        ],
    )


@router.post(
    "/patrons/{patron_id}/payments", status_code=status.HTTP_201_CREATED, response_model=EntryOut
)
async def pay(patron_id: UUID, body: Amount, app: App, caller: CallerDep) -> EntryOut:
    entry = await app.execute(RecordPayment(patron_id, body.amount, caller.actor))
    return _entry_out(entry)


@router.post(
    "/patrons/{patron_id}/waivers", status_code=status.HTTP_201_CREATED, response_model=EntryOut
)
async def waive(patron_id: UUID, body: Waiver, app: App, caller: CallerDep) -> EntryOut:
    """Staff forgive part of the balance (never more than is owed), saying why."""
    entry = await app.execute(WaiveFees(patron_id, body.amount, body.reason, caller.actor))
    return _entry_out(entry)


@router.post(
    "/patrons/{patron_id}/payouts", status_code=status.HTTP_201_CREATED, response_model=EntryOut
)
async def pay_out(patron_id: UUID, body: Amount, app: App, caller: CallerDep) -> EntryOut:
    """Staff hand back money the library owes the patron: a credit (a negative balance) left
    by the refund of a lost copy that came back after its charges were paid."""
    entry = await app.execute(PayOutCredit(patron_id, body.amount, caller.actor))
    return _entry_out(entry)


async def _known_patron(app: App, patron_id: UUID) -> None:
    if await app.readers.patrons.get(patron_id) is None:
        raise PatronNotFound(f"no patron {patron_id}")


def _entry_out(entry: LedgerEntry) -> EntryOut:
    return EntryOut(
        id=entry.id, kind=entry.kind.value, amount=str(entry.amount), at=entry.at, loan_id=None
    )
