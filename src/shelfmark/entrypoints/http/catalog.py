"""Catalog endpoints: books and copies."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Annotated, Literal
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from shelfmark.bootstrap.cache import (
    FIRST_PAGES_BY_AVAILABILITY,
    book_key,
    first_page_key,
    first_page_tags_for_new_books,
    first_pages_listing,
)
from shelfmark.catalog.application.commands import AddBook, AddCopy
from shelfmark.catalog.application.queries import BookDetails
from shelfmark.catalog.domain.errors import BookNotFound
from shelfmark.catalog.domain.values import Circulation, Isbn
from shelfmark.entrypoints.http.access import CallerDep
from shelfmark.entrypoints.http.cached import Fresh, cached
from shelfmark.entrypoints.http.deps import App
from shelfmark.entrypoints.http.fields import BarcodeIn, Text
from shelfmark.entrypoints.http.responses import PageOut, page_out
from shelfmark.search.application.queries import BookHit, SearchQuery
from shelfmark.seedwork.domain import InvalidValue
from shelfmark.seedwork.infrastructure.reading import one_read_connection
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


def book_out(
    book: BookHit | BookDetails, *, available: int, on_hold_shelf: int, total: int, waiting: int
) -> BookOut:
    status: ShelfStatus = "available"
    if not available:
        status = "on_hold_shelf" if on_hold_shelf else "borrowed"
    return BookOut(
        id=book.id,
        isbn=book.isbn,
        title=book.title,
        author=book.author,
        published_year=book.published_year,
        copies_total=total,
        copies_available=available,
        holds_waiting=waiting,
        is_borrowed=status == "borrowed",
        status=status,
    )


def hit_out(hit: BookHit) -> BookOut:
    return book_out(
        hit,
        available=hit.copies_available,
        on_hold_shelf=hit.copies_on_hold_shelf,
        total=hit.copies_total,
        waiting=hit.holds_waiting,
    )


def search_query(
    q: str | None, title: str | None, author: str | None, isbn: str | None, available: bool | None
) -> SearchQuery:
    """What the user typed, made precise: an ISBN in any form (10 or 13 digits, hyphens or
    not), in `q` or in `isbn`, becomes the normalised ISBN-13 the index holds."""
    typed_isbn = _isbn(isbn) or (isbn or None)
    q_isbn = _isbn(q)
    if q_isbn is not None:
        q, typed_isbn = None, typed_isbn or q_isbn
    return SearchQuery(q=q, title=title, author=author, isbn=typed_isbn, available=available)


def _isbn(text: str | None) -> str | None:
    if not text:
        return None
    try:
        return Isbn.parse(text).value
    except InvalidValue:
        return None


@router.get("/books", response_model=PageOut[BookOut])
async def list_books(
    app: App,
    request: Request,
    response: Response,
    q: Annotated[Text | None, Query(max_length=200)] = None,
    title: Annotated[Text | None, Query(max_length=300)] = None,
    author: Annotated[Text | None, Query(max_length=200)] = None,
    isbn: Annotated[Text | None, Query(max_length=20)] = None,
    available: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[Text | None, Query(max_length=1000)] = None,
) -> PageOut[BookOut] | Response:
    """Answered from the search index, which follows writes within the relay's lag (with `q`:
    by relevance; without: by title). A first page (no cursor) is cached per query."""
    query = search_query(q, title, author, isbn, available)
    if cursor is None:
        return await _first_page(request, app, query, limit)
    page = await app.readers.search.search(
        query, PageRequest(limit, decode_cursor(cursor, str, str))
    )
    return page_out(response, [hit_out(h) for h in page.items], page.next_cursor)


async def _first_page(request: Request, app: App, query: SearchQuery, limit: int) -> Response:
    """Cached under the normalised query; filed under every book it lists, under what a new
    book must hold to enter it (`first_page_tags_for_new_books`), and under the availability
    tag when the query filters on it (a return can add a book to the page)."""

    async def fresh() -> Fresh:
        page = await app.readers.search.search(query, PageRequest(limit))
        items = [hit_out(h) for h in page.items]
        tags = [
            *first_page_tags_for_new_books(query.q, page.words_only),
            *(first_pages_listing(b.id) for b in items),
        ]
        if query.available is not None:
            tags.append(FIRST_PAGES_BY_AVAILABILITY)
        headers = {"X-Next-Cursor": page.next_cursor} if page.next_cursor else {}
        return Fresh(PageOut[BookOut](items=items, next_cursor=page.next_cursor), headers, tags)

    fields = dataclasses.asdict(query) | {"limit": limit}
    normalised = urlencode(sorted((k, str(v)) for k, v in fields.items() if v is not None))
    return await cached(request, app, first_page_key(normalised), fresh)


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
    async def fresh() -> Fresh:
        return Fresh(await _details(app, book_id))

    return await cached(request, app, book_key(book_id), fresh, etag=True)


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
    """Read live from the catalogue and lending, so a desk sees its own change at once; one
    connection for the two reads."""
    async with one_read_connection(app.engines.read):
        book = await app.readers.books.get(book_id)
        if book is None:
            raise BookNotFound(f"no book {book_id}")
        shelf = await app.readers.loans.shelf(book.id, (c.id for c in book.copies))
    states = shelf.states
    summary = book_out(
        book,
        available=sum(1 for c in book.copies if c.id not in states),
        on_hold_shelf=sum(1 for state in states.values() if state == "on_hold_shelf"),
        total=len(book.copies),
        waiting=shelf.waiting,
    )
    return BookDetailsOut(
        **summary.model_dump(),
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
