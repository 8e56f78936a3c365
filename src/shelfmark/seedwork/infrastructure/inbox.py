"""The inbox: which consumer applied which event, written in the same transaction as the effect,
so a redelivered event is recognised and has no second effect.

A consumer records the event before it applies it (`first_delivery`): one statement, an insert
that does nothing where the row is already there, says whether this delivery is the first. (A
check and then an insert at commit were two statements per event per consumer.) Two
deliveries of one event at once (two consumers in flight on PostgreSQL) queue on the row: the
second's insert waits for the first's transaction, then finds the row, or inserts it and
applies the event itself if the first rolled back."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Column, String, Table, Uuid
from sqlalchemy.dialects import postgresql, sqlite
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


def _record_first(insert: Any) -> Any:
    return insert(inbox).on_conflict_do_nothing().returning(inbox.c.event_id)


#: Built once, by dialect (each spells the upsert with its own construct): every event every
#: consumer applies runs it.
_RECORD_FIRST = {
    "sqlite": _record_first(sqlite.insert),
    "postgresql": _record_first(postgresql.insert),
}


async def first_delivery(
    connection: AsyncConnection, consumer: str, event_id: UUID, at: datetime
) -> bool:
    """Records, in the connection's transaction, that `consumer` applies `event_id` at `at`;
    False when it already had, and then the caller must leave it at that."""
    recorded = await connection.execute(
        _RECORD_FIRST[connection.dialect.name],
        {"consumer": consumer, "event_id": event_id, "processed_at": at},
    )
    return recorded.first() is not None


class SqlInbox:
    """The inbox inside a unit of work, on its connection."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def first_delivery(self, consumer: str, event_id: UUID, at: datetime) -> bool:
        return await first_delivery(self._connection, consumer, event_id, at)
