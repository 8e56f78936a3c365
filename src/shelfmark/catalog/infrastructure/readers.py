"""Catalog read models straight from SQL (the search index answers lists and searches)."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncEngine

from shelfmark.catalog.application.queries import BookDetails, BookHeading, CopyView
from shelfmark.catalog.infrastructure.orm import books, copies
from shelfmark.seedwork.infrastructure.reading import reading

# Built once: building a statement and its cache key costs more than SQLite takes to answer it.
HEADING = select(books.c.title, books.c.author).where(books.c.id == bindparam("book_id"))
#: The book and its copies in one statement: a row per copy, one with no copy for a book without.
BOOK_WITH_COPIES = (
    select(
        books.c.id,
        books.c.isbn,
        books.c.title,
        books.c.author,
        books.c.published_year,
        copies.c.id.label("copy_id"),
        copies.c.barcode,
        copies.c.circulation,
    )
    .select_from(books.outerjoin(copies, copies.c.book_id == books.c.id))
    .where(books.c.id == bindparam("book_id"))
    .order_by(copies.c.barcode)
)


class SqlBookReader:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def heading(self, book_id: UUID) -> BookHeading | None:
        """The title and author alone (every e-mail about a loan names its book)."""
        async with reading(self._engine) as connection:
            row = (await connection.execute(HEADING, {"book_id": book_id})).first()
        return None if row is None else BookHeading(row.title, row.author)

    async def get(self, book_id: UUID) -> BookDetails | None:
        async with reading(self._engine) as connection:
            rows = (await connection.execute(BOOK_WITH_COPIES, {"book_id": book_id})).all()
        if not rows:
            return None
        book = rows[0]
        return BookDetails(
            id=book.id,
            isbn=book.isbn,
            title=book.title,
            author=book.author,
            published_year=book.published_year,
            copies=tuple(
                CopyView(r.copy_id, r.barcode, r.circulation) for r in rows if r.copy_id is not None
            ),
        )
