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
from shelfmark.entrypoints.http.deps import App, CallerDep
from shelfmark.entrypoints.http.responses import PageOut, page_out, with_etag
from shelfmark.seedwork.pagination import PageRequest, decode_cursor

router = APIRouter(tags=["catalog"])

CirculationIn = Literal["circulating", "restricted", "reference"]


class NewBook(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=300)
    author: str = Field(min_length=1, max_length=200)
    isbn: str | None = Field(None, max_length=20)
    published_year: int | None = Field(None, ge=1, le=9999)
    copies: int = Field(1, ge=0, le=100)
    circulation: CirculationIn = "circulating"


class NewCopy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    barcode: str | None = Field(None, max_length=32)
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
    status: Literal["available", "on_hold_shelf", "borrowed"]


class CopyOut(BaseModel):
    id: UUID
    barcode: str
    circulation: str
    status: Literal["available", "on_loan"]


class BookDetailsOut(BookOut):
    copies: list[CopyOut]


def book_out(book: BookSummary, on_loan: set[UUID]) -> BookOut:
    available = sum(1 for c in book.copy_ids if c not in on_loan)
    shelf_status: Literal["available", "borrowed"] = "available" if available else "borrowed"
    return BookOut(
        id=book.id,
        isbn=book.isbn,
        title=book.title,
        author=book.author,
        published_year=book.published_year,
        copies_total=len(book.copy_ids),
        copies_available=available,
        holds_waiting=0,
        is_borrowed=shelf_status == "borrowed",
        status=shelf_status,
    )


@router.get("/books", response_model=PageOut[BookOut])
async def list_books(
    app: App,
    response: Response,
    q: Annotated[str | None, Query(max_length=200)] = None,
    title: Annotated[str | None, Query(max_length=300)] = None,
    author: Annotated[str | None, Query(max_length=200)] = None,
    isbn: Annotated[str | None, Query(max_length=20)] = None,
    available: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
) -> PageOut[BookOut]:
    page = await app.readers.books.list(
        BookFilter(q=q, title=title, author=author, isbn=isbn, available=available),
        PageRequest(limit, decode_cursor(cursor, 2)),
    )
    on_loan = await app.readers.loans.copies_on_loan(c for b in page.items for c in b.copy_ids)
    return page_out(response, [book_out(b, on_loan) for b in page.items], page.next_cursor)


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
async def add_copy(book_id: UUID, body: NewCopy, app: App, caller: CallerDep) -> CopyOut:
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
    on_loan = await app.readers.loans.copies_on_loan(c.id for c in book.copies)
    summary = BookSummary(
        book.id,
        book.isbn,
        book.title,
        book.author,
        book.published_year,
        tuple(c.id for c in book.copies),
    )
    return BookDetailsOut(
        **book_out(summary, on_loan).model_dump(),
        copies=[
            CopyOut(
                id=c.id,
                barcode=c.barcode,
                circulation=c.circulation,
                status="on_loan" if c.id in on_loan else "available",
            )
            for c in book.copies
        ],
    )
