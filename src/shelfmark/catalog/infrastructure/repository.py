"""The Book repository over SQLAlchemy Core, mapping rows to the aggregate explicitly."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import bindparam, exists, select
from sqlalchemy.ext.asyncio import AsyncConnection

from shelfmark.catalog.domain.model import Book, BookId, Copy, CopyId
from shelfmark.catalog.domain.values import Barcode, Circulation, Isbn
from shelfmark.catalog.infrastructure.orm import books, copies
from shelfmark.seedwork.infrastructure.unit_of_work import SqlRepository
from shelfmark.seedwork.money import Money

# Built once, their values given as parameters (see `unit_of_work._versioned_update`).
_ISBN_TAKEN = select(exists().where(books.c.isbn == bindparam("isbn")))
_BARCODE_TAKEN = select(exists().where(copies.c.barcode == bindparam("barcode")))
_BOOK = select(books).where(books.c.id == bindparam("book_id"))
_COPIES = select(copies).where(copies.c.book_id == bindparam("book_id")).order_by(copies.c.barcode)
_ADD_COPIES = copies.insert()


class SqlAlchemyBookRepository(SqlRepository[Book]):
    def __init__(self, connection: AsyncConnection) -> None:
        super().__init__(connection)
        self._stored_copies: dict[UUID, set[UUID]] = {}

    async def get(self, book_id: UUID) -> Book | None:
        if book_id in self._seen:
            return self._seen[book_id]
        row = (await self.connection.execute(_BOOK, {"book_id": book_id})).first()
        if row is None:
            return None
        copy_rows = await self.connection.execute(_COPIES, {"book_id": book_id})
        book = Book(
            BookId(row.id),
            row.title,
            row.author,
            Isbn(row.isbn) if row.isbn else None,
            row.published_year,
            [
                Copy(
                    CopyId(c.id),
                    Barcode(c.barcode),
                    Circulation(c.circulation),
                    Money(c.replacement_cost_cents),
                )
                for c in copy_rows
            ],
        )
        book.version = row.version
        self._stored_copies[book.id] = {c.id for c in book.copies}
        return self._track(book)

    def add(self, book: Book) -> None:
        self._stored_copies[book.id] = set()
        self._track(book, new=True)

    async def isbn_taken(self, isbn: Isbn) -> bool:
        return bool(await self.connection.scalar(_ISBN_TAKEN, {"isbn": isbn.value}))

    async def barcode_taken(self, barcode: Barcode) -> bool:
        return bool(await self.connection.scalar(_BARCODE_TAKEN, {"barcode": barcode.value}))

    async def _insert(self, book: Book) -> None:
        await self._insert_row(
            books,
            id=book.id,
            isbn=book.isbn.value if book.isbn else None,
            title=book.title,
            author=book.author,
            published_year=book.published_year,
            version=book.version + 1,
        )
        await self._insert_new_copies(book)

    async def _update(self, book: Book) -> None:
        await self._update_versioned(
            books, books.c.id, book, {"title": book.title, "author": book.author}
        )
        await self._insert_new_copies(book)

    async def _insert_new_copies(self, book: Book) -> None:
        stored = self._stored_copies[book.id]
        new = [c for c in book.copies if c.id not in stored]
        if new:
            await self.connection.execute(
                _ADD_COPIES,
                [
                    {
                        "id": c.id,
                        "book_id": book.id,
                        "barcode": c.barcode.value,
                        "circulation": c.circulation.value,
                        "replacement_cost_cents": c.replacement_cost.cents,
                    }
                    for c in new
                ],
            )
            stored.update(c.id for c in new)
