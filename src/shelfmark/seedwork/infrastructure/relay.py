"""The outbox relay: publishes committed events in commit order per aggregate, at least once.

A batch is read in position order. With `lock_rows` (PostgreSQL) the rows are claimed with
`FOR UPDATE SKIP LOCKED` in a transaction that stays open until they are marked, so several
relays share the work without publishing one row twice; an event whose aggregate has an earlier
row still unpublished outside this batch (claimed by another relay) waits for it. Without it
(SQLite, one process) the batch is read, published, then marked. A row is marked published only
after the transport confirmed it; a crash in between publishes it again and the consumers'
inboxes absorb the duplicate.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import Row, bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shelfmark.seedwork.infrastructure.envelopes import envelope_from_row
from shelfmark.seedwork.infrastructure.outbox import outbox
from shelfmark.seedwork.infrastructure.reading import reading
from shelfmark.seedwork.infrastructure.transaction import writing
from shelfmark.seedwork.messaging import EventPublisher

log = structlog.get_logger("shelfmark.relay")

PRUNE_BATCH = 5000

# A relay round's statements, built once: building one cost more than SQLite takes to run it.
_UNPUBLISHED = outbox.c.published_at.is_(None)
_BATCH = (
    select(outbox).where(_UNPUBLISHED).order_by(outbox.c.position).limit(bindparam("batch_size"))
)
_CLAIMED_BATCH = _BATCH.with_for_update(skip_locked=True)
#: For each aggregate of a batch, its earliest unpublished row before the batch's last but
#: outside the batch, if any.
_EARLIEST_OUTSIDE = (
    select(outbox.c.aggregate_id, func.min(outbox.c.position))
    .where(
        _UNPUBLISHED,
        outbox.c.aggregate_id.in_(bindparam("aggregate_ids", expanding=True)),
        outbox.c.position.not_in(bindparam("positions", expanding=True)),
        outbox.c.position < bindparam("last_position"),
    )
    .group_by(outbox.c.aggregate_id)
)
_MARK_PUBLISHED = (
    update(outbox)
    .where(outbox.c.position.in_(bindparam("positions", expanding=True)))
    .values(published_at=bindparam("now"))
)
_COUNT_ATTEMPT = (
    update(outbox)
    .where(outbox.c.position == bindparam("failed_position"))
    .values(attempts=outbox.c.attempts + 1, last_error=bindparam("error"))
)
_PENDING = select(func.count()).select_from(outbox).where(_UNPUBLISHED)


class OutboxRelay:
    def __init__(
        self,
        write: AsyncEngine,
        read: AsyncEngine,
        publisher: EventPublisher,
        *,
        lock_rows: bool,
        batch_size: int = 200,
    ) -> None:
        self._write = write
        self._read = read
        self._publisher = publisher
        self._lock_rows = lock_rows
        self._batch_size = batch_size

    async def relay_once(self, now: datetime) -> int:
        """Publishes one batch; returns how many rows were marked published. When the transport
        failed, the attempt is counted on the row it stopped at and the error is raised."""
        if self._lock_rows:
            async with writing(self._write) as connection:
                rows = await self._claim(connection)
                delivered, error = await self._deliver(rows)
                await self._mark(connection, rows, delivered, error, now)
        else:
            # No write transaction may be open while in-process consumers write.
            async with reading(self._read) as reader:
                rows = await self._unblocked(reader, await self._batch(reader, lock=False))
            delivered, error = await self._deliver(rows)
            if rows:
                async with writing(self._write) as connection:
                    await self._mark(connection, rows, delivered, error, now)
        if error is not None:
            raise error
        return delivered

    async def pending(self) -> int:
        async with reading(self._read) as connection:
            return int(await connection.scalar(_PENDING) or 0)

    async def prune(self, published_before: datetime) -> int:
        """Deletes published rows older than the retention, a bounded batch at a time."""
        old = (
            select(outbox.c.position)
            .where(outbox.c.published_at.is_not(None), outbox.c.published_at < published_before)
            .limit(PRUNE_BATCH)
        )
        async with writing(self._write) as connection:
            result = await connection.execute(delete(outbox).where(outbox.c.position.in_(old)))
        return int(result.rowcount or 0)

    async def _claim(self, connection: AsyncConnection) -> list[Row[Any]]:
        return await self._unblocked(connection, await self._batch(connection, lock=True))

    async def _batch(self, connection: AsyncConnection, *, lock: bool) -> list[Row[Any]]:
        query = _CLAIMED_BATCH if lock else _BATCH
        return list((await connection.execute(query, {"batch_size": self._batch_size})).all())

    async def _unblocked(self, connection: AsyncConnection, rows: list[Row[Any]]) -> list[Row[Any]]:
        """Drops rows whose aggregate has an earlier unpublished row outside this batch."""
        if not rows:
            return rows
        positions = [r.position for r in rows]
        values = {
            "aggregate_ids": list({r.aggregate_id for r in rows}),
            "positions": positions,
            "last_position": max(positions),
        }
        earliest_outside = dict((await connection.execute(_EARLIEST_OUTSIDE, values)).all())
        return [
            r
            for r in rows
            if r.aggregate_id not in earliest_outside
            or earliest_outside[r.aggregate_id] > r.position
        ]

    async def _deliver(self, rows: Sequence[Row[Any]]) -> tuple[int, Exception | None]:
        if not rows:
            return 0, None
        try:
            return await self._publisher.publish([envelope_from_row(r) for r in rows]), None
        except Exception as error:
            return 0, error

    async def _mark(
        self,
        connection: AsyncConnection,
        rows: Sequence[Row[Any]],
        delivered: int,
        error: Exception | None,
        now: datetime,
    ) -> None:
        done = [r.position for r in rows[:delivered]]
        if done:
            await connection.execute(_MARK_PUBLISHED, {"positions": done, "now": now})
        if delivered < len(rows):
            reason = "not confirmed" if error is None else repr(error)
            await self._count_attempt(connection, rows[delivered].position, reason)

    async def _count_attempt(self, connection: AsyncConnection, position: int, error: str) -> None:
        await connection.execute(
            _COUNT_ATTEMPT, {"failed_position": position, "error": error[:1000]}
        )


def retention_cutoff(now: datetime, hours: int) -> datetime:
    return now - timedelta(hours=hours)
