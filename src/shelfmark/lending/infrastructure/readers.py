"""Lending read models straight from SQL, bypassing the aggregates."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, Select, Uuid, bindparam, select, tuple_
from sqlalchemy.ext.asyncio import AsyncEngine

from shelfmark.lending.application.queries import (
    AccountView,
    EntryView,
    HoldView,
    LoanFilter,
    LoanView,
    ShelfView,
)
from shelfmark.lending.domain.model import LoanStatus, renewals_left, status_at
from shelfmark.lending.domain.rules import Borrower, BorrowerRecord
from shelfmark.lending.infrastructure import hold_readers
from shelfmark.lending.infrastructure.acl import SqlPatronStanding
from shelfmark.lending.infrastructure.orm import fee_accounts, loans
from shelfmark.lending.infrastructure.repository import (
    LEDGER_OF_PATRON,
    SqlAlchemyLoanRepository,
)
from shelfmark.seedwork.domain import InvalidValue
from shelfmark.seedwork.infrastructure.reading import reading
from shelfmark.seedwork.infrastructure.types import UtcDateTime
from shelfmark.seedwork.money import Money
from shelfmark.seedwork.pagination import Page, PageRequest, page_of

STATUSES = ("open", "active", "overdue", "returned", "lost")


_NOW = bindparam("now", type_=UtcDateTime())
_IS_OPEN = loans.c.returned_at.is_(None)
_NOT_LOST = loans.c.status != LoanStatus.LOST.value
STATUS_CONDITIONS: dict[str, ColumnElement[bool]] = {
    "open": _IS_OPEN,
    "active": _IS_OPEN & _NOT_LOST & (loans.c.due_at >= _NOW),
    "overdue": _IS_OPEN & _NOT_LOST & (loans.c.due_at < _NOW),
    "returned": loans.c.returned_at.is_not(None),
    "lost": loans.c.status == LoanStatus.LOST.value,
}
_ORDER = (loans.c.borrowed_at, loans.c.id)


@functools.cache
def _list_statement(by_patron: bool, by_book: bool, status: str | None, after: bool) -> Select[Any]:
    """Built once per shape of filter, with bind parameters: building a statement and its
    cache key cost as much as SQLite takes to answer a page."""
    query = select(*VIEWED).order_by(*(c.desc() for c in _ORDER))
    if by_patron:
        query = query.where(loans.c.patron_id == bindparam("patron_id"))
    if by_book:
        query = query.where(loans.c.book_id == bindparam("book_id"))
    if status is not None:
        query = query.where(STATUS_CONDITIONS[status])
    if after:
        # Typed: a tuple comparison does not pass the columns' types on to its parameters.
        cursor = tuple_(
            bindparam("after_at", type_=UtcDateTime()), bindparam("after_id", type_=Uuid())
        )
        query = query.where(tuple_(*_ORDER) < cursor)
    return query.limit(bindparam("limit"))


#: What a loan's view needs, read as it is: the aggregate is not built for a read.
VIEWED = (
    loans.c.id,
    loans.c.book_id,
    loans.c.copy_id,
    loans.c.barcode,
    loans.c.patron_id,
    loans.c.borrowed_at,
    loans.c.due_at,
    loans.c.renewals_allowed,
    loans.c.renewals_used,
    loans.c.returned_at,
    loans.c.status,
    loans.c.fine_cents,
)


_ONE = select(*VIEWED).where(loans.c.id == bindparam("loan_id"))
_BALANCE = select(fee_accounts.c.balance_cents).where(
    fee_accounts.c.patron_id == bindparam("patron_id")
)


def _view(row: Sequence[Any], now: datetime) -> LoanView:
    (id_, book_id, copy_id, barcode, patron_id, borrowed_at, due_at, allowed, used) = row[:9]
    returned_at, status, fine_cents = row[9:]
    return LoanView(
        id=id_,
        book_id=book_id,
        copy_id=copy_id,
        barcode=barcode,
        patron_id=patron_id,
        borrowed_at=borrowed_at,
        due_at=due_at,
        renewals_left=renewals_left(allowed, used),
        returned_at=returned_at,
        status=status_at(LoanStatus(status), due_at, returned_at, now).value,
        fine=None if fine_cents is None else Money(fine_cents),
    )


class SqlLoanReader:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def holds_of_patron(self, patron_id: UUID, active_only: bool) -> list[HoldView]:
        query = hold_readers.ACTIVE_OF_PATRON if active_only else hold_readers.OF_PATRON
        async with reading(self._engine) as connection:
            return await hold_readers.hold_views(connection, query, {"patron_id": patron_id})

    async def get(self, loan_id: UUID, now: datetime) -> LoanView | None:
        async with reading(self._engine) as connection:
            row = (await connection.execute(_ONE, {"loan_id": loan_id})).first()
        return _view(row, now) if row else None

    async def list(self, filters: LoanFilter, page: PageRequest, now: datetime) -> Page[LoanView]:
        """Newest loans first."""
        status = filters.status or None
        if status is not None and status not in STATUS_CONDITIONS:
            raise InvalidValue("query.status", f"status is one of {', '.join(STATUSES[1:])}")
        query = _list_statement(
            filters.patron_id is not None,
            filters.book_id is not None,
            status,
            page.after is not None,
        )
        after_at, after_id = page.after if page.after is not None else (None, None)
        values = {
            "patron_id": filters.patron_id,
            "book_id": filters.book_id,
            "now": now,
            "after_at": after_at,
            "after_id": after_id,
            "limit": page.limit + 1,
        }
        async with reading(self._engine) as connection:
            rows = (await connection.execute(query, values)).all()
        views = [_view(r, now) for r in rows]
        return page_of(views, page, key=lambda v: (v.borrowed_at.isoformat(), str(v.id)))

    async def shelf(self, book_id: UUID, copy_ids: Iterable[UUID]) -> ShelfView:
        async with reading(self._engine) as connection:
            return await hold_readers.shelf(connection, book_id, list(copy_ids))

    async def hold(self, hold_id: UUID) -> HoldView | None:
        async with reading(self._engine) as connection:
            views = await hold_readers.hold_views(
                connection, hold_readers.ONE, {"hold_id": hold_id}
            )
        return views[0] if views else None

    async def account(self, patron_id: UUID) -> AccountView:
        async with reading(self._engine) as connection:
            balance = await connection.scalar(_BALANCE, {"patron_id": patron_id})
            rows = await connection.execute(LEDGER_OF_PATRON, {"patron_id": patron_id})
            entries = [
                EntryView(r.id, r.kind, Money(r.amount_cents), r.at, r.loan_id) for r in rows
            ]
        return AccountView(patron_id, Money(balance or 0), entries)

    async def borrower(
        self, patron_id: UUID, now: datetime
    ) -> tuple[Borrower, BorrowerRecord] | None:
        async with reading(self._engine) as connection:
            borrower = await SqlPatronStanding(connection, lock=False).borrower(patron_id)
            if borrower is None:
                return None
            open_loans, overdue = await SqlAlchemyLoanRepository(connection).record_of(
                patron_id, now
            )
            balance = await connection.scalar(_BALANCE, {"patron_id": patron_id})
        return borrower, BorrowerRecord(open_loans, overdue, Money(balance or 0))
