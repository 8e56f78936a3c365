"""Read queries about holds and the hold shelf, straight from SQL."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import Row, Select, bindparam, func, literal_column, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from shelfmark.lending.application.queries import HoldView, ShelfView
from shelfmark.lending.domain.holds import HoldStatus
from shelfmark.lending.infrastructure.orm import holds, loans

WAITING = HoldStatus.WAITING.value
READY = HoldStatus.READY.value
ACTIVE = (WAITING, READY)

# Built once: building a statement and its cache key costs more than SQLite takes to answer it.
#: One statement for a book's shelf: a row per copy kept on the hold shelf, per copy on loan
#: (found by copy, through the index of open loans) and per waiting hold.
SHELF = union_all(
    select(holds.c.copy_id, literal_column("'on_hold_shelf'").label("state")).where(
        holds.c.book_id == bindparam("book_id"), holds.c.status == READY
    ),
    select(loans.c.copy_id, literal_column("'on_loan'")).where(
        loans.c.copy_id.in_(bindparam("copy_ids", expanding=True)), loans.c.returned_at.is_(None)
    ),
    select(holds.c.copy_id, literal_column("'waiting'")).where(
        holds.c.book_id == bindparam("book_id"), holds.c.status == WAITING
    ),
)


async def shelf(connection: AsyncConnection, book_id: UUID, copy_ids: list[UUID]) -> ShelfView:
    rows = await connection.execute(SHELF, {"book_id": book_id, "copy_ids": copy_ids})
    states: dict[UUID, str] = {}
    waiting = 0
    for copy_id, state in rows:
        if state == "waiting":
            waiting += 1
        elif state == "on_loan" or copy_id not in states:  # on loan wins, in any row order
            states[copy_id] = state
    return ShelfView(states, waiting)


#: Correlated to each hold read: its book's waiting holds, and those of them ahead of it.
_OTHERS = holds.alias("others")
_WAITING_FOR_ITS_BOOK = (_OTHERS.c.book_id == holds.c.book_id, _OTHERS.c.status == WAITING)
QUEUE_LENGTH = select(func.count()).where(*_WAITING_FOR_ITS_BOOK).scalar_subquery()
AHEAD = (
    select(func.count())
    .where(*_WAITING_FOR_ITS_BOOK, _OTHERS.c.queue_number < holds.c.queue_number)
    .scalar_subquery()
)


#: Holds with their place in the queue, in one statement: position counts the waiting holds
#: ahead, plus one. Below, the three selections the readers make of them.
VIEWED = select(holds, QUEUE_LENGTH.label("queue_length"), AHEAD.label("ahead")).order_by(
    holds.c.placed_at, holds.c.queue_number
)
ONE = VIEWED.where(holds.c.id == bindparam("hold_id"))
OF_PATRON = VIEWED.where(holds.c.patron_id == bindparam("patron_id"))
ACTIVE_OF_PATRON = OF_PATRON.where(holds.c.status.in_(ACTIVE))


async def hold_views(
    connection: AsyncConnection, query: Select[Any], values: dict[str, Any]
) -> list[HoldView]:
    """The holds `query` (`ONE`, `OF_PATRON` or `ACTIVE_OF_PATRON`) selects."""
    return [_view(row) for row in await connection.execute(query, values)]


def _view(row: Row[Any]) -> HoldView:
    return HoldView(
        id=row.id,
        book_id=row.book_id,
        patron_id=row.patron_id,
        placed_at=row.placed_at,
        status=row.status,
        position=int(row.ahead) + 1 if row.status == WAITING else None,
        queue_length=int(row.queue_length),
        copy_id=row.copy_id,
        pickup_deadline=row.pickup_deadline,
        expires_at=row.expires_at,
    )
