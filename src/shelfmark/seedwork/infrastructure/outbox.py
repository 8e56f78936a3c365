"""The transactional outbox: every recorded domain event is written in the same transaction
as the change that produced it, so an event is never lost and never published for a rollback."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

from sqlalchemy import Column, Index, Integer, String, Table, Text, Uuid
from sqlalchemy.ext.asyncio import AsyncConnection

from shelfmark.seedwork.domain import DomainEvent
from shelfmark.seedwork.infrastructure.metadata import metadata
from shelfmark.seedwork.infrastructure.types import BigSerial, UtcDateTime
from shelfmark.seedwork.money import Money

outbox = Table(
    "outbox",
    metadata,
    Column("position", BigSerial, primary_key=True, autoincrement=True),
    Column("event_id", Uuid, nullable=False, unique=True),
    Column("event_type", String(100), nullable=False),
    Column("aggregate_id", Uuid, nullable=False),
    Column("payload", Text, nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("published_at", UtcDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Index("ix_outbox_aggregate_id_position", "aggregate_id", "position"),
    Index("ix_outbox_published_at", "published_at"),
    Index(
        "ix_outbox_unpublished",
        "position",
        sqlite_where=Column("published_at").is_(None),
        postgresql_where=Column("published_at").is_(None),
    ),
)


def _encode(value: Any) -> Any:
    if isinstance(value, UUID | Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Money):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"cannot serialise {type(value).__name__}")


def serialise(event: DomainEvent) -> str:
    fields = {f.name: getattr(event, f.name) for f in dataclasses.fields(event)}
    return json.dumps(fields, default=_encode, sort_keys=True)


_APPEND = outbox.insert()  # built once, its cache key with it


async def append_to_outbox(connection: AsyncConnection, events: Sequence[DomainEvent]) -> None:
    if not events:
        return
    await connection.execute(
        _APPEND,
        [
            {
                "event_id": e.event_id,
                "event_type": e.name,
                "aggregate_id": e.aggregate_id,
                "payload": serialise(e),
                "occurred_at": e.occurred_at,
                "attempts": 0,
            }
            for e in events
        ],
    )
