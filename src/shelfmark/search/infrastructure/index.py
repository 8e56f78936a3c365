"""Refreshing index entries with set-based statements from the catalogue's and lending's
tables (read through table clauses, never their models): each entry is written as its book is
now, inserted if it is new, else updated in place (the counts always, the description only
where it differs, so SQLite's FTS5 index is left alone by a loan or a hold)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Self
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
    or_,
    select,
    table,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shelfmark.search.infrastructure.orm import book_search
from shelfmark.seedwork.clock import Clock
from shelfmark.seedwork.infrastructure.inbox import SqlInbox
from shelfmark.seedwork.infrastructure.transaction import SqlTransaction
from shelfmark.seedwork.infrastructure.types import UtcDateTime

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

#: An entry's description, as its book has it.
DESCRIPTION: dict[str, ColumnElement[Any]] = {
    "title": books.c.title,
    "author": books.c.author,
    "isbn": books.c.isbn,
    "published_year": books.c.published_year,
    "search_text": func.lower(books.c.title + " " + books.c.author),
}
#: What the book's copies, loans and holds make of it, and when that was read.
COUNTS = [
    "copies_total",
    "copies_available",
    "copies_on_hold_shelf",
    "holds_waiting",
    "refreshed_at",
]


#: Every entry as its book is now; `refreshed_at` is bound when the statement runs.
ENTRIES = select(
    books.c.id,
    *DESCRIPTION.values(),
    _count_copies(),
    _count_copies(~_out.exists(), ~_kept.exists()),
    _count_copies(_kept.exists()),
    select(func.count())
    .select_from(holds)
    .where(holds.c.book_id == books.c.id, holds.c.status == "waiting")
    .scalar_subquery(),
    bindparam("refreshed_at", type_=UtcDateTime),
)

COLUMNS = ["book_id", *DESCRIPTION, *COUNTS]

# A refresh's statements, built once (building them cost more than running them).
_these_books = books.c.id.in_(bindparam("book_ids", expanding=True))
LOCK_BOOKS = select(books.c.id).where(_these_books).with_for_update()


def _add_or_count(insert: Any) -> Any:
    """New entries inserted whole; an existing entry gets its counts, and nothing else (an
    update of the title or author would make SQLite's FTS5 index drop and add the words)."""
    statement = insert(book_search).from_select(COLUMNS, ENTRIES.where(_these_books))
    return statement.on_conflict_do_update(
        index_elements=[book_search.c.book_id],
        set_={name: statement.excluded[name] for name in COUNTS},
    )


#: By dialect: the upsert is spelt alike, but each has its own construct.
ADD_OR_COUNT = {
    "sqlite": _add_or_count(sqlite.insert),
    "postgresql": _add_or_count(postgresql.insert),
}
#: The description of the entries whose book no longer reads as they do (none, as the
#: catalogue has no command that edits a book; kept so that an entry is always its book).
#: Nor does any command delete a book: an entry whose book were gone would stay until
#: `rebuild`.
DESCRIBE = (
    update(book_search)
    .where(
        book_search.c.book_id == books.c.id,
        _these_books,
        or_(*(book_search.c[name].is_distinct_from(now) for name, now in DESCRIPTION.items())),
    )
    .values(DESCRIPTION)
)
REBUILD = book_search.insert().from_select(COLUMNS, ENTRIES)


class SqlBookIndex:
    def __init__(self, connection: AsyncConnection, clock: Clock) -> None:
        self._connection = connection
        self._clock = clock

    async def refresh(self, book_ids: Collection[UUID]) -> None:
        ids = {"book_ids": list(book_ids)}
        dialect = self._connection.dialect.name
        # One refresh of a book at a time, so the last writer has the newest state: on
        # PostgreSQL the book's row lock, as circulation takes it (the later refresh then reads
        # the earlier one's result); SQLite's write transactions already take turns.
        if dialect != "sqlite":
            await self._connection.execute(LOCK_BOOKS, ids)
        await self._connection.execute(
            ADD_OR_COUNT[dialect], ids | {"refreshed_at": self._clock.now()}
        )
        await self._connection.execute(DESCRIBE, ids)

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
        await self.connection.commit()
