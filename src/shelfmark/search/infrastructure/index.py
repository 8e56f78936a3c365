"""Refreshing index entries with one set-based statement from the catalogue's and lending's
tables (read through table clauses, never their models): delete the entries, insert them
again as the books are now."""

from __future__ import annotations

from collections.abc import Collection
from typing import Self
from uuid import UUID

from sqlalchemy import (
    ColumnElement,
    Integer,
    ScalarSelect,
    String,
    Uuid,
    bindparam,
    column,
    delete,
    func,
    select,
    table,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shelfmark.search.infrastructure.orm import book_search
from shelfmark.seedwork.application import ConcurrencyConflict
from shelfmark.seedwork.clock import Clock
from shelfmark.seedwork.infrastructure.inbox import SqlInbox
from shelfmark.seedwork.infrastructure.transaction import SqlTransaction
from shelfmark.seedwork.infrastructure.types import UtcDateTime
from shelfmark.seedwork.infrastructure.unit_of_work import is_unique_violation

books = table(
    "books",
    column("id", Uuid),
    column("title", String),
    column("author", String),
    column("isbn", String),
    column("published_year", Integer),
)
copies = table("copies", column("id", Uuid), column("book_id", Uuid))
loans = table("loans", column("copy_id", Uuid), column("returned_at"))
holds = table("holds", column("book_id", Uuid), column("copy_id", Uuid), column("status"))


def _count_copies(*conditions: ColumnElement[bool]) -> ScalarSelect[int]:
    return (
        select(func.count())
        .select_from(copies)
        .where(copies.c.book_id == books.c.id, *conditions)
        .scalar_subquery()
    )


_out = select(loans.c.copy_id).where(loans.c.copy_id == copies.c.id, loans.c.returned_at.is_(None))
_kept = select(holds.c.copy_id).where(holds.c.copy_id == copies.c.id, holds.c.status == "ready")


#: Every entry as its book is now; `refreshed_at` is bound when the statement runs.
ENTRIES = select(
    books.c.id,
    books.c.title,
    books.c.author,
    books.c.isbn,
    books.c.published_year,
    func.lower(books.c.title + " " + books.c.author),
    _count_copies(),
    _count_copies(~_out.exists(), ~_kept.exists()),
    _count_copies(_kept.exists()),
    select(func.count())
    .select_from(holds)
    .where(holds.c.book_id == books.c.id, holds.c.status == "waiting")
    .scalar_subquery(),
    bindparam("refreshed_at", type_=UtcDateTime),
)

COLUMNS = [
    "book_id",
    "title",
    "author",
    "isbn",
    "published_year",
    "search_text",
    "copies_total",
    "copies_available",
    "copies_on_hold_shelf",
    "holds_waiting",
    "refreshed_at",
]

# A refresh's three statements, built once (building them cost more than running them).
_these_books = books.c.id.in_(bindparam("book_ids", expanding=True))
LOCK_BOOKS = select(books.c.id).where(_these_books).with_for_update()
DROP_ENTRIES = delete(book_search).where(
    book_search.c.book_id.in_(bindparam("book_ids", expanding=True))
)
ADD_ENTRIES = book_search.insert().from_select(COLUMNS, ENTRIES.where(_these_books))
REBUILD = book_search.insert().from_select(COLUMNS, ENTRIES)


class SqlBookIndex:
    def __init__(self, connection: AsyncConnection, clock: Clock) -> None:
        self._connection = connection
        self._clock = clock

    async def refresh(self, book_ids: Collection[UUID]) -> None:
        ids = {"book_ids": list(book_ids)}
        # One refresh of a book at a time (the book's row lock, as circulation takes it): the
        # later one reads the earlier one's result, so the last writer has the newest state.
        await self._connection.execute(LOCK_BOOKS, ids)
        await self._connection.execute(DROP_ENTRIES, ids)
        try:
            await self._connection.execute(ADD_ENTRIES, ids | {"refreshed_at": self._clock.now()})
        except IntegrityError as error:
            if is_unique_violation(error):  # a concurrent refresh of the same book won
                raise ConcurrencyConflict(str(error.orig)) from error
            raise

    async def is_behind(self) -> bool:
        """True when books exist but the index is empty (a database from before the index,
        or books written straight to the tables by `shelfmark seed`)."""
        indexed = await self._connection.scalar(select(func.count()).select_from(book_search))
        if indexed:
            return False
        return bool(await self._connection.scalar(select(func.count()).select_from(books)))

    async def rebuild(self) -> int:
        """Every entry again from scratch (after seeding, or to repair the index)."""
        await self._connection.execute(delete(book_search))
        result = await self._connection.execute(REBUILD, {"refreshed_at": self._clock.now()})
        return int(result.rowcount or 0)


class SqlSearchUnitOfWork(SqlTransaction):
    def __init__(self, engine: AsyncEngine, clock: Clock) -> None:
        super().__init__(engine)
        self._clock = clock

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self.index = SqlBookIndex(self.connection, self._clock)
        self.inbox = SqlInbox(self.connection)
        return self

    async def commit(self) -> None:
        await self.inbox.flush()
        await self.connection.commit()
