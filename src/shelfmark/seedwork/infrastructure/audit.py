"""The audit log: staff actions that override a rule or move money, with who, when, what and
why, written in the same transaction as the change (so it can neither be lost nor invented)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Column, Index, String, Table, Text, Uuid
from sqlalchemy.ext.asyncio import AsyncConnection

from shelfmark.seedwork.domain import DomainEvent
from shelfmark.seedwork.infrastructure.metadata import metadata
from shelfmark.seedwork.infrastructure.outbox import serialise
from shelfmark.seedwork.infrastructure.types import UtcDateTime

audit_log = Table(
    "audit_log",
    metadata,
    Column("event_id", Uuid, primary_key=True),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", String(254), nullable=False),
    Column("action", String(100), nullable=False),
    Column("subject_id", Uuid, nullable=False),
    Column("details", Text, nullable=False),
    Index("ix_audit_log_at_event_id", "at", "event_id"),
)


async def append_to_audit_log(connection: AsyncConnection, events: Sequence[DomainEvent]) -> None:
    audited = [e for e in events if e.is_audited]
    if audited:
        await connection.execute(
            audit_log.insert(),
            [
                {
                    "event_id": e.event_id,
                    "at": e.occurred_at,
                    "actor": e.actor,
                    "action": e.name,
                    "subject_id": e.aggregate_id,
                    "details": serialise(e),
                }
                for e in audited
            ],
        )
