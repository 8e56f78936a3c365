"""Catalog read models straight from SQL."""

from __future__ import annotations

from collections import defaultdict
from uuid import UUID

from sqlalchemy import ColumnElement, Select, Uuid, and_, column, func, or_, select, table, tuple_
from sqlalchemy.ext.asyncio import AsyncEngine

from shelfmark.catalog.application.queries import BookDetails, BookFilter, BookSummary, CopyView
from shelfmark.catalog.domain.values import Isbn
from shelfmark.catalog.infrastructure.orm import books, copies
from shelfmark.seedwork.domain import InvalidValue
from shelfmark.seedwork.pagination import Page, PageRequest, page_of


class SqlBookReader:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def get(self, book_id: UUID) -> BookDetails | None:
        async with self._engine.connect() as connection:
            row = (await connection.execute(select(books).where(books.c.id == book_id))).first()
            if row is None:
                return None
            copy_rows = await connection.execute(
                select(copies).where(copies.c.book_id == book_id).order_by(copies.c.barcode)
            )
            return BookDetails(
                id=row.id,
                isbn=row.isbn,
                title=row.title,
                author=row.author,
                published_year=row.published_year,
                copies=tuple(CopyView(c.id, c.barcode, c.circulation) for c in copy_rows),
            )

    async def list(self, filters: BookFilter, page: PageRequest) -> Page[BookSummary]:
        query = _filtered(select(books), filters).order_by(books.c.title, books.c.id)
        if page.after is not None:
            query = query.where(tuple_(books.c.title, books.c.id) > page.after)
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query.limit(page.limit + 1))).all()
            ids = [r.id for r in rows]
            copy_rows = await connection.execute(
                select(copies.c.book_id, copies.c.id).where(copies.c.book_id.in_(ids))
            )
        copy_ids: dict[UUID, list[UUID]] = defaultdict(list)
        for book_id, copy_id in copy_rows:
            copy_ids[book_id].append(copy_id)
        summaries = [
            BookSummary(r.id, r.isbn, r.title, r.author, r.published_year, tuple(copy_ids[r.id]))
            for r in rows
        ]
        return page_of(summaries, page, key=lambda b: (b.title, str(b.id)))


# The read side may look at lending's tables through table clauses (never its model): a book
# is available when one of its copies is neither out on loan nor kept on the hold shelf.
_open_loans = table("loans", column("copy_id", Uuid), column("returned_at"))
_ready_holds = table("holds", column("copy_id", Uuid), column("status"))
_on_shelf = (
    select(copies.c.id)
    .where(
        copies.c.book_id == books.c.id,
        ~select(_open_loans.c.copy_id)
        .where(_open_loans.c.copy_id == copies.c.id, _open_loans.c.returned_at.is_(None))
        .exists(),
        ~select(_ready_holds.c.copy_id)
        .where(_ready_holds.c.copy_id == copies.c.id, _ready_holds.c.status == "ready")
        .exists(),
    )
    .exists()
)


def _contains(column: ColumnElement[str], text: str) -> ColumnElement[bool]:
    return func.lower(column).contains(text.lower(), autoescape=True)


def _filtered(query: Select[tuple[object, ...]], filters: BookFilter) -> Select[tuple[object, ...]]:
    conditions = []
    if filters.q:
        term = or_(_contains(books.c.title, filters.q), _contains(books.c.author, filters.q))
        isbn = _isbn_or_none(filters.q)
        conditions.append(or_(term, books.c.isbn == isbn.value) if isbn else term)
    if filters.title:
        conditions.append(_contains(books.c.title, filters.title))
    if filters.author:
        conditions.append(_contains(books.c.author, filters.author))
    if filters.isbn:
        isbn = _isbn_or_none(filters.isbn)
        conditions.append(books.c.isbn == (isbn.value if isbn else filters.isbn))
    if filters.available is not None:
        conditions.append(_on_shelf if filters.available else ~_on_shelf)
    return query.where(and_(*conditions)) if conditions else query


def _isbn_or_none(text: str) -> Isbn | None:
    try:
        return Isbn.parse(text)
    except InvalidValue:
        return None
