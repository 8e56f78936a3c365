"""Catalog read models straight from SQL (the search index answers lists and searches)."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncEngine

from shelfmark.catalog.application.queries import BookDetails, BookHeading, CopyView
from shelfmark.catalog.infrastructure.orm import books, copies
from shelfmark.seedwork.infrastructure.reading import reading

# Built once: building a statement and its cache key costs more than SQLite takes to answer it.
BOOK = select(books).where(books.c.id == bindparam("book_id"))
HEADING = select(books.c.title, books.c.author).where(books.c.id == bindparam("book_id"))
COPIES = select(copies).where(copies.c.book_id == bindparam("book_id")).order_by(copies.c.barcode)


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
            row = (await connection.execute(BOOK, {"book_id": book_id})).first()
            if row is None:
                return None
            copy_rows = await connection.execute(COPIES, {"book_id": book_id})
            return BookDetails(
                id=row.id,
                isbn=row.isbn,
                title=row.title,
                author=row.author,
                published_year=row.published_year,
                copies=tuple(CopyView(c.id, c.barcode, c.circulation) for c in copy_rows),
            )
