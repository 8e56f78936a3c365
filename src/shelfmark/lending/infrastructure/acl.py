"""The anti-corruption layer: lending's view of the catalog's copies and the patrons' records.

It reads their tables through lightweight table clauses, never their Python model, and turns
rows into lending's own `ShelfCopy` and `Borrower`.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import Date, Integer, String, Uuid, column, select, table
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


class SqlCopyAvailability:
    def __init__(self, connection: AsyncConnection, *, lock: bool) -> None:
        self.connection = connection
        self._lock = lock

    async def shelf_copies(self, book_id: UUID) -> list[ShelfCopy] | None:
        book = select(catalog_books.c.id).where(catalog_books.c.id == book_id)
        if self._lock:
            # One title's circulation (borrow, return, holds) takes turns on PostgreSQL, so a
            # copy is never lent and kept on the hold shelf at once (SQLite is serial already).
            book = book.with_for_update()
        if await self.connection.scalar(book) is None:
            return None
        open_loan = (
            select(loans.c.id)
            .where(loans.c.copy_id == catalog_copies.c.id, loans.c.returned_at.is_(None))
            .exists()
        )
        held_for = (
            select(holds.c.patron_id)
            .where(holds.c.copy_id == catalog_copies.c.id, holds.c.status == HoldStatus.READY.value)
            .scalar_subquery()
        )
        rows = await self.connection.execute(
            select(catalog_copies, open_loan.label("on_loan"), held_for.label("held_for"))
            .where(catalog_copies.c.book_id == book_id)
            .order_by(catalog_copies.c.barcode)
        )
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


class SqlPatronStanding:
    def __init__(self, connection: AsyncConnection, *, lock: bool) -> None:
        self.connection = connection
        self._lock = lock

    async def borrower(self, patron_id: UUID) -> Borrower | None:
        query = select(patron_records).where(patron_records.c.id == patron_id)
        if self._lock:
            # Serialises one patron's concurrent checkouts so the loan limit holds (PostgreSQL;
            # SQLite's write transactions are serial already).
            query = query.with_for_update()
        row = (await self.connection.execute(query)).first()
        if row is None:
            return None
        return Borrower(row.id, row.category, row.suspended_reason is not None, row.card_expires_on)

    async def patron_id_by_email(self, email: str) -> UUID | None:
        return await self.connection.scalar(
            select(patron_records.c.id).where(patron_records.c.email == email.strip().lower())
        )
