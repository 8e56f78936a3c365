"""Dead letters of the in-process bus: events a consumer failed on every time it was tried.

(With RabbitMQ, the broker keeps them in a dead-letter queue per consumer instead.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import Column, Index, String, Table, Text, Uuid, delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from shelfmark.seedwork.infrastructure.envelopes import decode, encode
from shelfmark.seedwork.infrastructure.metadata import metadata
from shelfmark.seedwork.infrastructure.transaction import writing
from shelfmark.seedwork.infrastructure.types import BigSerial, UtcDateTime
from shelfmark.seedwork.messaging import Envelope

dead_letters = Table(
    "dead_letters",
    metadata,
    Column("id", BigSerial, primary_key=True, autoincrement=True),
    Column("consumer", String(100), nullable=False),
    Column("event_id", Uuid, nullable=False),
    Column("event_type", String(100), nullable=False),
    Column("envelope", Text, nullable=False),
    Column("error", Text, nullable=False),
    Column("failed_at", UtcDateTime, nullable=False),
    Index("ix_dead_letters_consumer", "consumer", "id"),
)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    consumer: str
    envelope: Envelope
    error: str


class SqlDeadLetters:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, consumer: str, envelope: Envelope, error: str, at: datetime) -> None:
        async with writing(self._engine) as connection:
            await connection.execute(
                dead_letters.insert().values(
                    consumer=consumer,
                    event_id=envelope.event_id,
                    event_type=envelope.event_type,
                    envelope=encode(envelope).decode(),
                    error=error[:2000],
                    failed_at=at,
                )
            )

    async def list(self, consumer: str | None = None) -> Sequence[DeadLetter]:
        query = select(dead_letters).order_by(dead_letters.c.id)
        if consumer is not None:
            query = query.where(dead_letters.c.consumer == consumer)
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [DeadLetter(r.consumer, decode(r.envelope.encode()), r.error) for r in rows]

    async def remove(self, consumer: str, event_id: UUID) -> None:
        async with writing(self._engine) as connection:
            await connection.execute(
                delete(dead_letters).where(
                    dead_letters.c.consumer == consumer, dead_letters.c.event_id == event_id
                )
            )
