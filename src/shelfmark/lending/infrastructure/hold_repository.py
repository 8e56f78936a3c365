"""The Hold repository over SQLAlchemy Core."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Row, Select, and_, bindparam, func, or_, select

from shelfmark.lending.domain.holds import Hold, HoldId, HoldStatus
from shelfmark.lending.infrastructure.orm import holds
from shelfmark.seedwork.infrastructure.unit_of_work import SqlRepository

ACTIVE = (HoldStatus.WAITING.value, HoldStatus.READY.value)


# Built once with their values as parameters: building a statement and its cache key cost more
# than SQLite takes to answer it.
_IN_QUEUE_ORDER = select(holds).order_by(holds.c.queue_number)
_HOLD = _IN_QUEUE_ORDER.where(holds.c.id == bindparam("hold_id"))
_WAITING_FOR_BOOK = _IN_QUEUE_ORDER.where(
    holds.c.book_id == bindparam("book_id"), holds.c.status == HoldStatus.WAITING.value
)
_ACTIVE_FOR_PATRON = _IN_QUEUE_ORDER.where(
    holds.c.patron_id == bindparam("patron_id"), holds.c.status.in_(ACTIVE)
)
_LAST_QUEUE_NUMBER = select(func.max(holds.c.queue_number)).where(
    holds.c.book_id == bindparam("book_id")
)


class SqlAlchemyHoldRepository(SqlRepository[Hold]):
    async def get(self, hold_id: UUID) -> Hold | None:
        if hold_id in self._seen:
            return self._seen[hold_id]
        rows = await self._load(_HOLD, {"hold_id": hold_id})
        return rows[0] if rows else None

    def add(self, hold: Hold) -> None:
        self._track(hold, new=True)

    async def waiting_for_book(self, book_id: UUID) -> list[Hold]:
        return await self._load(_WAITING_FOR_BOOK, {"book_id": book_id})

    async def active_for_patron(self, patron_id: UUID) -> list[Hold]:
        return await self._load(_ACTIVE_FOR_PATRON, {"patron_id": patron_id})

    async def next_queue_number(self, book_id: UUID) -> int:
        last = await self.connection.scalar(_LAST_QUEUE_NUMBER, {"book_id": book_id})
        return int(last or 0) + 1

    async def expiring_ids(self, now: datetime) -> list[UUID]:
        query = select(holds.c.id).where(
            or_(
                and_(holds.c.status == HoldStatus.READY.value, holds.c.pickup_deadline < now),
                and_(holds.c.status == HoldStatus.WAITING.value, holds.c.expires_at < now),
            )
        )
        return list((await self.connection.scalars(query)).all())

    async def _load(self, query: Select[Any], values: dict[str, Any]) -> list[Hold]:
        rows = await self.connection.execute(query, values)
        return [self._seen.get(r.id) or self._track(hold_from_row(r)) for r in rows]

    async def _insert(self, hold: Hold) -> None:
        await self._insert_row(
            holds,
            id=hold.id,
            book_id=hold.book_id,
            patron_id=hold.patron_id,
            placed_at=hold.placed_at,
            queue_number=hold.queue_number,
            restricted_ok=hold.restricted_ok,
            expires_at=hold.expires_at,
            version=hold.version + 1,
            **_mutable(hold),
        )

    async def _update(self, hold: Hold) -> None:
        await self._update_versioned(holds, holds.c.id, hold, _mutable(hold))


def _mutable(hold: Hold) -> dict[str, Any]:
    return {
        "status": hold.status.value,
        "copy_id": hold.copy_id,
        "pickup_deadline": hold.pickup_deadline,
        "closed_at": hold.closed_at,
    }


def hold_from_row(row: Row[Any]) -> Hold:
    hold = Hold(
        HoldId(row.id),
        book_id=row.book_id,
        patron_id=row.patron_id,
        placed_at=row.placed_at,
        queue_number=row.queue_number,
        restricted_ok=row.restricted_ok,
        expires_at=row.expires_at,
        status=HoldStatus(row.status),
        copy_id=row.copy_id,
        pickup_deadline=row.pickup_deadline,
        closed_at=row.closed_at,
    )
    hold.version = row.version
    return hold
