"""Catalog endpoints: books and copies."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from shelfmark.catalog.application.commands import AddBook, AddCopy
from shelfmark.catalog.application.queries import BookFilter, BookSummary
from shelfmark.catalog.domain.errors import BookNotFound
from shelfmark.catalog.domain.values import Circulation
from shelfmark.entrypoints.http.access import CallerDep
from shelfmark.entrypoints.http.deps import App
from shelfmark.entrypoints.http.fields import BarcodeIn, Text
from shelfmark.entrypoints.http.responses import PageOut, page_out, with_etag
from shelfmark.seedwork.pagination import PageRequest, decode_cursor

router = APIRouter(tags=["catalog"])

CirculationIn = Literal["circulating", "restricted", "reference"]
ShelfStatus = Literal["available", "on_hold_shelf", "borrowed"]


class NewBook(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: Text = Field(min_length=1, max_length=300)
    author: Text = Field(min_length=1, max_length=200)
    isbn: Text | None = Field(None, max_length=20)
    published_year: int | None = Field(None, ge=1, le=9999)
    copies: int = Field(1, ge=0, le=100)
    circulation: CirculationIn = "circulating"


class NewCopy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    barcode: BarcodeIn | None = None
    circulation: CirculationIn = "circulating"
    replacement_cost: Decimal | None = Field(None, gt=0, max_digits=9, decimal_places=2)


class BookOut(BaseModel):
    id: UUID
    isbn: str | None
    title: str
    author: str
    published_year: int | None
    copies_total: int
    copies_available: int
    holds_waiting: int
    is_borrowed: bool
    status: ShelfStatus


class CopyOut(BaseModel):
    id: UUID
    barcode: str
    circulation: str
    status: Literal["available", "on_loan", "on_hold_shelf"]


class BookDetailsOut(BookOut):
    copies: list[CopyOut]


def book_out(book: BookSummary, states: dict[UUID, str], waiting: dict[UUID, int]) -> BookOut:
    """`states` says which copies are on loan or on the hold shelf; the rest are on the shelf."""
    available = sum(1 for c in book.copy_ids if c not in states)
    status: ShelfStatus = "available"
    if not available:
        kept = any(states.get(c) == "on_hold_shelf" for c in book.copy_ids)
        status = "on_hold_shelf" if kept else "borrowed"
    return BookOut(
        id=book.id,
        isbn=book.isbn,
        title=book.title,
        author=book.author,
        published_year=book.published_year,
        copies_total=len(book.copy_ids),
        copies_available=available,
        holds_waiting=waiting.get(book.id, 0),
        is_borrowed=status == "borrowed",
        status=status,
    )


@router.get("/books", response_model=PageOut[BookOut])
async def list_books(
    app: App,
    response: Response,
    q: Annotated[Text | None, Query(max_length=200)] = None,
    title: Annotated[Text | None, Query(max_length=300)] = None,
    author: Annotated[Text | None, Query(max_length=200)] = None,
    isbn: Annotated[Text | None, Query(max_length=20)] = None,
    available: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[Text | None, Query(max_length=1000)] = None,
) -> PageOut[BookOut]:
    page = await app.readers.books.list(
        BookFilter(q=q, title=title, author=author, isbn=isbn, available=available),
        PageRequest(limit, decode_cursor(cursor, str, UUID)),
    )
    states = await app.readers.loans.copy_states(c for b in page.items for c in b.copy_ids)
    waiting = await app.readers.loans.holds_waiting(b.id for b in page.items)
    items = [book_out(b, states, waiting) for b in page.items]
    return page_out(response, items, page.next_cursor)


@router.post("/books", status_code=status.HTTP_201_CREATED, response_model=BookDetailsOut)
async def add_book(
    body: NewBook, app: App, caller: CallerDep, response: Response
) -> BookDetailsOut:
    book_id = await app.execute(
        AddBook(
            title=body.title,
            author=body.author,
            isbn=body.isbn,
            published_year=body.published_year,
            copies=body.copies,
            circulation=Circulation(body.circulation),
            actor=caller.actor,
        )
    )
    response.headers["Location"] = f"/books/{book_id}"
    return await _details(app, book_id)


@router.get("/books/{book_id}", response_model=BookDetailsOut)
async def get_book(book_id: UUID, app: App, request: Request) -> Response:
    return with_etag(request, await _details(app, book_id))


@router.post("/books/{book_id}/copies", status_code=status.HTTP_201_CREATED, response_model=CopyOut)
async def add_copy(
    book_id: UUID, app: App, caller: CallerDep, body: NewCopy | None = None
) -> CopyOut:
    body = body or NewCopy()
    copy_id = await app.execute(
        AddCopy(
            book_id=book_id,
            barcode=body.barcode,
            circulation=Circulation(body.circulation),
            replacement_cost=body.replacement_cost,
            actor=caller.actor,
        )
    )
    details = await _details(app, book_id)
    return next(c for c in details.copies if c.id == copy_id)


async def _details(app: App, book_id: UUID) -> BookDetailsOut:
    book = await app.readers.books.get(book_id)
    if book is None:
        raise BookNotFound(f"no book {book_id}")
    states = await app.readers.loans.copy_states(c.id for c in book.copies)
    waiting = await app.readers.loans.holds_waiting([book.id])
    summary = BookSummary(
        book.id,
        book.isbn,
        book.title,
        book.author,
        book.published_year,
        tuple(c.id for c in book.copies),
    )
    return BookDetailsOut(
        **book_out(summary, states, waiting).model_dump(),
        copies=[
            CopyOut(
                id=c.id,
                barcode=c.barcode,
                circulation=c.circulation,
                status=states.get(c.id, "available"),
            )
            for c in book.copies
        ],
    )
