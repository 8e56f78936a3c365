"""The Hold aggregate: a patron's place in a book's queue, then a copy kept for them."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from enum import StrEnum
from typing import NewType

from shelfmark.lending.domain.calendar import LibraryCalendar
from shelfmark.lending.domain.errors import HoldNotActive
from shelfmark.lending.domain.events import (
    HoldCancelled,
    HoldExpired,
    HoldFulfilled,
    HoldPlaced,
    HoldReadyForPickup,
)
from shelfmark.seedwork.domain import AggregateRoot, Reason

HoldId = NewType("HoldId", uuid.UUID)


class HoldStatus(StrEnum):
    WAITING = "waiting"
    READY = "ready"
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"
    EXPIRED = "expired"

    @property
    def is_active(self) -> bool:
        return self in (HoldStatus.WAITING, HoldStatus.READY)


class Hold(AggregateRoot):
    """Title level: any suitable copy of the book fills it. Terminal holds never change again.

    `queue_number` orders a book's queue (first come, first served); `restricted_ok` says
    whether a restricted copy may fill it (the patron was a researcher when placing it).
    """

    id: HoldId

    def __init__(
        self,
        id: HoldId,
        *,
        book_id: uuid.UUID,
        patron_id: uuid.UUID,
        placed_at: datetime,
        queue_number: int,
        restricted_ok: bool,
        expires_at: datetime | None,
        status: HoldStatus = HoldStatus.WAITING,
        copy_id: uuid.UUID | None = None,
        pickup_deadline: datetime | None = None,
        closed_at: datetime | None = None,
    ) -> None:
        super().__init__()
        self.id = id
        self.book_id = book_id
        self.patron_id = patron_id
        self.placed_at = placed_at
        self.queue_number = queue_number
        self.restricted_ok = restricted_ok
        self.expires_at = expires_at
        self.status = status
        self.copy_id = copy_id
        self.pickup_deadline = pickup_deadline
        self.closed_at = closed_at

    @classmethod
    def place(
        cls,
        *,
        book_id: uuid.UUID,
        patron_id: uuid.UUID,
        queue_number: int,
        restricted_ok: bool,
        open_ended: bool,
        expiry_days: int,
        now: datetime,
        actor: str,
    ) -> Hold:
        """A waiting hold; it expires `expiry_days` after placement unless it is open-ended."""
        hold = cls(
            HoldId(uuid.uuid4()),
            book_id=book_id,
            patron_id=patron_id,
            placed_at=now,
            queue_number=queue_number,
            restricted_ok=restricted_ok,
            expires_at=None if open_ended else now + timedelta(days=expiry_days),
        )
        hold.record(
            HoldPlaced(
                aggregate_id=hold.id,
                occurred_at=now,
                actor=actor,
                book_id=book_id,
                patron_id=patron_id,
            )
        )
        return hold

    def _require(self, *allowed: HoldStatus) -> None:
        if self.status not in allowed:
            raise HoldNotActive([Reason("HOLD_NOT_ACTIVE", f"the hold is {self.status.value}")])

    def make_ready(
        self,
        copy_id: uuid.UUID,
        calendar: LibraryCalendar,
        pickup_days: int,
        now: datetime,
        actor: str,
    ) -> None:
        """A copy is kept for the patron until the end of the pickup window (past closed days)."""
        self._require(HoldStatus.WAITING)
        self.status = HoldStatus.READY
        self.copy_id = copy_id
        self.pickup_deadline = calendar.deadline(now, pickup_days)
        self.record(
            HoldReadyForPickup(
                aggregate_id=self.id,
                occurred_at=now,
                actor=actor,
                book_id=self.book_id,
                patron_id=self.patron_id,
                copy_id=copy_id,
                pickup_deadline=self.pickup_deadline,
            )
        )

    def fulfil(self, loan_id: uuid.UUID, now: datetime, actor: str) -> None:
        """The patron borrowed the book: the kept copy, or any copy while still waiting."""
        self._require(HoldStatus.WAITING, HoldStatus.READY)
        self._close(HoldStatus.FULFILLED, now)
        self.record(
            HoldFulfilled(
                aggregate_id=self.id,
                occurred_at=now,
                actor=actor,
                book_id=self.book_id,
                patron_id=self.patron_id,
                loan_id=loan_id,
            )
        )

    def cancel(self, now: datetime, actor: str) -> uuid.UUID | None:
        """Cancels a waiting or ready hold; returns the copy it kept, for the next in line."""
        self._require(HoldStatus.WAITING, HoldStatus.READY)
        freed = self.copy_id if self.status is HoldStatus.READY else None
        self._close(HoldStatus.CANCELLED, now)
        self.record(
            HoldCancelled(
                aggregate_id=self.id,
                occurred_at=now,
                actor=actor,
                book_id=self.book_id,
                patron_id=self.patron_id,
            )
        )
        return freed

    def is_expired(self, now: datetime) -> bool:
        if self.status is HoldStatus.READY:
            return self.pickup_deadline is not None and now > self.pickup_deadline
        if self.status is HoldStatus.WAITING:
            return self.expires_at is not None and now > self.expires_at
        return False

    def expire(self, now: datetime, actor: str) -> uuid.UUID | None:
        """Ends an uncollected ready hold or a waiting one past expiry; returns a freed copy."""
        if not self.is_expired(now):
            return None
        freed = self.copy_id if self.status is HoldStatus.READY else None
        self._close(HoldStatus.EXPIRED, now)
        self.record(
            HoldExpired(
                aggregate_id=self.id,
                occurred_at=now,
                actor=actor,
                book_id=self.book_id,
                patron_id=self.patron_id,
            )
        )
        return freed

    def _close(self, status: HoldStatus, now: datetime) -> None:
        self.status = status
        self.closed_at = now
