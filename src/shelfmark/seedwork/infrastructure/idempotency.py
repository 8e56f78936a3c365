"""Stored Idempotency-Keys: the first request with a key claims it, later ones replay its answer.

The claim is a row inserted in its own short transaction before the request runs, so two
processes (or two PostgreSQL connections) can never both run the same key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    Column,
    Integer,
    LargeBinary,
    String,
    Table,
    bindparam,
    delete,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from shelfmark.seedwork.infrastructure.metadata import metadata
from shelfmark.seedwork.infrastructure.transaction import writing
from shelfmark.seedwork.infrastructure.types import UtcDateTime

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("key", String(300), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False, index=True),
    Column("status_code", Integer, nullable=True),
    Column("content_type", String(100), nullable=True),
    Column("location", String(500), nullable=True),
    Column("body", LargeBinary, nullable=True),
)


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    content_type: str | None
    location: str | None
    body: bytes


@dataclass(frozen=True)
class Claimed:
    """This request owns the key and runs."""


@dataclass(frozen=True)
class InProgress:
    """Another request with this key is still running."""


@dataclass(frozen=True)
class Mismatch:
    """The key was used with a different request."""


Claim = Claimed | InProgress | Mismatch | StoredResponse


#: Built once, the values given as parameters (a statement built with its values costs more
#: than SQLite takes to run it, `unit_of_work._versioned_update`).
_COMPLETE = update(idempotency_keys).where(idempotency_keys.c.key == bindparam("claimed_key"))


class IdempotencyStore:
    def __init__(self, engine: AsyncEngine, ttl_hours: int = 24) -> None:
        self._engine = engine
        self._ttl = timedelta(hours=ttl_hours)

    async def claim(self, key: str, fingerprint: str, now: datetime) -> Claim:
        for _ in range(3):
            try:
                async with writing(self._engine) as connection:
                    await connection.execute(
                        idempotency_keys.insert(),
                        {"key": key, "fingerprint": fingerprint, "created_at": now},
                    )
                return Claimed()
            except IntegrityError:
                pass
            async with writing(self._engine) as connection:
                row = (
                    await connection.execute(
                        select(idempotency_keys).where(idempotency_keys.c.key == key)
                    )
                ).first()
                if row is None:
                    continue  # released meanwhile: claim it again
                if row.created_at < now - self._ttl:
                    await connection.execute(
                        delete(idempotency_keys).where(idempotency_keys.c.key == key)
                    )
                    continue
            if row.fingerprint != fingerprint:
                return Mismatch()
            if row.status_code is None:
                return InProgress()
            return StoredResponse(row.status_code, row.content_type, row.location, row.body)
        return InProgress()

    async def complete(self, key: str, response: StoredResponse) -> None:
        async with writing(self._engine) as connection:
            await connection.execute(
                _COMPLETE,
                {
                    "claimed_key": key,
                    "status_code": response.status_code,
                    "content_type": response.content_type,
                    "location": response.location,
                    "body": response.body,
                },
            )

    async def release(self, key: str) -> None:
        """Forgets a claim whose request failed on our side, so the client may retry it."""
        async with writing(self._engine) as connection:
            await connection.execute(delete(idempotency_keys).where(idempotency_keys.c.key == key))
