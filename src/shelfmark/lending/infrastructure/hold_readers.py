"""Read queries about holds and the hold shelf, straight from SQL."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from sqlalchemy import Row, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from shelfmark.lending.application.queries import HoldView
from shelfmark.lending.domain.holds import HoldStatus
from shelfmark.lending.infrastructure.orm import holds, loans

WAITING = HoldStatus.WAITING.value
READY = HoldStatus.READY.value
ACTIVE = (WAITING, READY)

# Built once: building a statement and its cache key costs more than SQLite takes to answer it.
COPIES_ON_HOLD_SHELF = select(holds.c.copy_id).where(
    holds.c.copy_id.in_(bindparam("copy_ids", expanding=True)), holds.c.status == READY
)
COPIES_ON_LOAN = select(loans.c.copy_id).where(
    loans.c.copy_id.in_(bindparam("copy_ids", expanding=True)), loans.c.returned_at.is_(None)
)
HOLDS_WAITING = (
    select(holds.c.book_id, func.count())
    .where(holds.c.book_id.in_(bindparam("book_ids", expanding=True)), holds.c.status == WAITING)
    .group_by(holds.c.book_id)
)


async def copy_states(connection: AsyncConnection, copy_ids: list[UUID]) -> dict[UUID, str]:
    if not copy_ids:
        return {}
    kept = await connection.scalars(COPIES_ON_HOLD_SHELF, {"copy_ids": copy_ids})
    states = {copy_id: "on_hold_shelf" for copy_id in kept}
    out = await connection.scalars(COPIES_ON_LOAN, {"copy_ids": copy_ids})
    states.update({copy_id: "on_loan" for copy_id in out})
    return states


async def holds_waiting(connection: AsyncConnection, book_ids: Iterable[UUID]) -> dict[UUID, int]:
    ids = list(book_ids)
    if not ids:
        return {}
    rows = await connection.execute(HOLDS_WAITING, {"book_ids": ids})
    return {book_id: int(count) for book_id, count in rows}


async def hold_views(connection: AsyncConnection, *conditions: Any) -> list[HoldView]:
    """Holds with their place in the queue: position counts the waiting holds ahead, plus one."""
    rows = (
        await connection.execute(
            select(holds).where(*conditions).order_by(holds.c.placed_at, holds.c.queue_number)
        )
    ).all()
    return [await _view(connection, row) for row in rows]


async def _view(connection: AsyncConnection, row: Row[Any]) -> HoldView:
    waiting = select(func.count()).where(holds.c.book_id == row.book_id, holds.c.status == WAITING)
    queue_length = int(await connection.scalar(waiting) or 0)
    position = None
    if row.status == WAITING:
        ahead = waiting.where(holds.c.queue_number < row.queue_number)
        position = int(await connection.scalar(ahead) or 0) + 1
    return HoldView(
        id=row.id,
        book_id=row.book_id,
        patron_id=row.patron_id,
        placed_at=row.placed_at,
        status=row.status,
        position=position,
        queue_length=queue_length,
        copy_id=row.copy_id,
        pickup_deadline=row.pickup_deadline,
        expires_at=row.expires_at,
    )
