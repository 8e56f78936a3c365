"""Notifications in SQL: queued in the same transaction as the inbox row of their event, and
claimed by senders with a lease (`FOR UPDATE SKIP LOCKED` where the database has it)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import Row, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from shelfmark.notifications.domain.model import Notification, Status
from shelfmark.notifications.infrastructure.orm import notifications
from shelfmark.seedwork.infrastructure import inbox
from shelfmark.seedwork.infrastructure.transaction import SqlTransaction, writing

_ADD = notifications.insert()  # built once, its cache key with it


class SqlNotificationsUnitOfWork(SqlTransaction):
    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(engine)
        self._added: list[Notification] = []

    async def first_delivery(self, consumer: str, event_id: UUID, at: datetime) -> bool:
        return await inbox.first_delivery(self.connection, consumer, event_id, at)

    def add(self, notification: Notification) -> None:
        self._added.append(notification)

    async def commit(self) -> None:
        if self._added:
            await self.connection.execute(_ADD, [_row(n) for n in self._added])
        await self.connection.commit()


#: Built once, its values given as parameters: one a message sent, and building an update
#: with its values cost more than running it.
SAVE = update(notifications).where(notifications.c.id == bindparam("notification_id"))


class SqlNotificationQueue:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def claim_due(self, now: datetime, lease: timedelta, limit: int) -> list[Notification]:
        due = (
            select(notifications.c.id)
            .where(notifications.c.status == Status.QUEUED, notifications.c.next_attempt_at <= now)
            .order_by(notifications.c.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        claim = (
            update(notifications)
            .where(notifications.c.id.in_(due.scalar_subquery()))
            .values(attempts=notifications.c.attempts + 1, next_attempt_at=now + lease)
            .returning(*notifications.c)
        )
        async with writing(self._engine) as connection:
            rows = (await connection.execute(claim)).all()
        return sorted((_notification(r) for r in rows), key=lambda n: n.created_at)

    async def save(self, notification: Notification) -> None:
        async with writing(self._engine) as connection:
            await connection.execute(
                SAVE,
                {
                    "notification_id": notification.id,
                    "status": notification.status,
                    "next_attempt_at": notification.next_attempt_at,
                    "sent_at": notification.sent_at,
                    "last_error": notification.last_error,
                },
            )

    async def release(self, notification: Notification, now: datetime) -> None:
        async with writing(self._engine) as connection:
            await connection.execute(
                update(notifications)
                .where(notifications.c.id == notification.id)
                .values(attempts=notifications.c.attempts - 1, next_attempt_at=now)
            )


def _row(n: Notification) -> dict[str, Any]:
    return {
        "id": n.id,
        "event_id": n.event_id,
        "kind": n.kind,
        "patron_id": n.patron_id,
        "recipient": n.recipient,
        "subject": n.subject,
        "text_body": n.text,
        "html_body": n.html,
        "status": n.status,
        "attempts": n.attempts,
        "created_at": n.created_at,
        "next_attempt_at": n.next_attempt_at,
        "sent_at": n.sent_at,
        "last_error": n.last_error,
    }


def _notification(row: Row[Any]) -> Notification:
    return Notification(
        id=row.id,
        event_id=row.event_id,
        kind=row.kind,
        patron_id=row.patron_id,
        recipient=row.recipient,
        subject=row.subject,
        text=row.text_body,
        html=row.html_body,
        created_at=row.created_at,
        status=Status(row.status),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        sent_at=row.sent_at,
        last_error=row.last_error,
    )
