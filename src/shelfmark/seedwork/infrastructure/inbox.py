"""The inbox: which consumer applied which event, written in the same transaction as the effect,
so a redelivered event is recognised and has no second effect."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import Column, String, Table, Uuid, bindparam, exists, select
from sqlalchemy.ext.asyncio import AsyncConnection

from shelfmark.seedwork.infrastructure.metadata import metadata
from shelfmark.seedwork.infrastructure.types import UtcDateTime

inbox = Table(
    "inbox",
    metadata,
    Column("consumer", String(100), primary_key=True),
    Column("event_id", Uuid, primary_key=True),
    Column("processed_at", UtcDateTime, nullable=False),
)


# Built once: every event every consumer applies runs both.
_APPLIED = select(
    exists().where(
        inbox.c.consumer == bindparam("consumer"), inbox.c.event_id == bindparam("event_id")
    )
)
_RECORD = inbox.insert()


async def already_applied(connection: AsyncConnection, consumer: str, event_id: UUID) -> bool:
    return bool(await connection.scalar(_APPLIED, {"consumer": consumer, "event_id": event_id}))


async def record_applied(
    connection: AsyncConnection, consumer: str, event_id: UUID, at: datetime
) -> None:
    """Two concurrent deliveries of one event both pass `already_applied`; the second insert
    then clashes on the key, its transaction rolls back, and the retry finds the row."""
    await connection.execute(
        _RECORD, {"consumer": consumer, "event_id": event_id, "processed_at": at}
    )


class SqlInbox:
    """The inbox inside a unit of work: marks are written when the unit of work commits."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection
        self._marks: list[tuple[str, UUID, datetime]] = []

    async def already_applied(self, consumer: str, event_id: UUID) -> bool:
        return await already_applied(self._connection, consumer, event_id)

    def mark_applied(self, consumer: str, event_id: UUID, at: datetime) -> None:
        self._marks.append((consumer, event_id, at))

    async def flush(self) -> None:
        for consumer, event_id, at in self._marks:
            await record_applied(self._connection, consumer, event_id, at)
        self._marks.clear()
