"""The anti-corruption layer: lending's view of the catalog's copies and the patrons' records.

It reads their tables through lightweight table clauses, never their Python model, and turns
rows into lending's own `ShelfCopy` and `Borrower`.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import Date, Integer, String, Uuid, bindparam, column, select, table
from sqlalchemy.ext.asyncio import AsyncConnection

from shelfmark.lending.domain.checkout import ShelfCopy
from shelfmark.lending.domain.holds import HoldStatus
from shelfmark.lending.domain.rules import Borrower
from shelfmark.lending.infrastructure.orm import holds, loans
from shelfmark.seedwork.money import Money

catalog_books = table("books", column("id", Uuid))
catalog_copies = table(
    "copies",
    column("id", Uuid),
    column("book_id", Uuid),
    column("barcode", String),
    column("circulation", String),
    column("replacement_cost_cents", Integer),
)
patron_records = table(
    "patrons",
    column("id", Uuid),
    column("email", String),
    column("category", String),
    column("suspended_reason", String),
    column("card_expires_on", Date),
)


# Built once, their values given as parameters: building these and their cache keys cost
# more than SQLite takes to answer them.
_BOOK = select(catalog_books.c.id).where(catalog_books.c.id == bindparam("book_id"))
_BOOK_LOCKED = _BOOK.with_for_update()
_OPEN_LOAN = (
    select(loans.c.id)
    .where(loans.c.copy_id == catalog_copies.c.id, loans.c.returned_at.is_(None))
    .exists()
)
_HELD_FOR = (
    select(holds.c.patron_id)
    .where(holds.c.copy_id == catalog_copies.c.id, holds.c.status == HoldStatus.READY.value)
    .scalar_subquery()
)
_SHELF = (
    select(catalog_copies, _OPEN_LOAN.label("on_loan"), _HELD_FOR.label("held_for"))
    .where(catalog_copies.c.book_id == bindparam("book_id"))
    .order_by(catalog_copies.c.barcode)
)


class SqlCopyAvailability:
    def __init__(self, connection: AsyncConnection, *, lock: bool) -> None:
        self.connection = connection
        self._lock = lock

    async def shelf_copies(self, book_id: UUID) -> list[ShelfCopy] | None:
        # With the lock, one title's circulation (borrow, return, holds) takes turns on
        # PostgreSQL, so a copy is never lent and kept on the hold shelf at once (SQLite is
        # serial already).
        book = _BOOK_LOCKED if self._lock else _BOOK
        if await self.connection.scalar(book, {"book_id": book_id}) is None:
            return None
        rows = await self.connection.execute(_SHELF, {"book_id": book_id})
        return [
            ShelfCopy(
                r.id,
                r.barcode,
                r.circulation,
                Money(r.replacement_cost_cents),
                bool(r.on_loan),
                r.held_for,
            )
            for r in rows
        ]

    async def book_of_barcode(self, barcode: str) -> UUID | None:
        return await self.connection.scalar(
            select(catalog_copies.c.book_id).where(catalog_copies.c.barcode == barcode.strip())
        )


_BORROWER = select(patron_records).where(patron_records.c.id == bindparam("patron_id"))
_BORROWER_LOCKED = _BORROWER.with_for_update()


class SqlPatronStanding:
    def __init__(self, connection: AsyncConnection, *, lock: bool) -> None:
        self.connection = connection
        self._lock = lock

    async def borrower(self, patron_id: UUID) -> Borrower | None:
        # With the lock, one patron's concurrent checkouts take turns so the loan limit holds
        # (PostgreSQL; SQLite's write transactions are serial already).
        query = _BORROWER_LOCKED if self._lock else _BORROWER
        row = (await self.connection.execute(query, {"patron_id": patron_id})).first()
        if row is None:
            return None
        return Borrower(row.id, row.category, row.suspended_reason is not None, row.card_expires_on)

    async def patron_id_by_email(self, email: str) -> UUID | None:
        return await self.connection.scalar(
            select(patron_records.c.id).where(patron_records.c.email == email.strip().lower())
        )
