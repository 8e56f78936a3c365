"""An instant goes into either database and comes back as the same aware UTC instant. On
SQLite it is stored as UTC wall-time text of one fixed width, the form that range conditions
and orderings compare as text, and read back by the type's own quick parse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, insert, select, text
from sqlalchemy.exc import StatementError

from shelfmark.seedwork.infrastructure.database import Engines
from shelfmark.seedwork.infrastructure.types import UtcDateTime

instants = Table(
    "test_instants",
    MetaData(),
    Column("n", Integer, primary_key=True),
    Column("at", UtcDateTime, nullable=True),
)
WRITTEN = [
    datetime(2026, 11, 30, 12, 34, 56, 123456, tzinfo=UTC),
    datetime(2026, 11, 30, 14, 34, 56, tzinfo=timezone(timedelta(hours=2))),  # 12:34:56 UTC
    datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-5))),
    None,
]


async def test_an_instant_comes_back_as_the_same_aware_utc_instant(engines: Engines) -> None:
    async with engines.write.begin() as connection:
        await connection.run_sync(instants.create)
        try:
            await connection.execute(
                insert(instants), [{"n": n, "at": at} for n, at in enumerate(WRITTEN)]
            )
            read = (await connection.scalars(select(instants.c.at).order_by(instants.c.n))).all()
            stored = (await connection.scalars(text("SELECT at FROM test_instants"))).all()
        finally:
            await connection.run_sync(instants.drop)

    assert read == WRITTEN
    assert all(at is None or at.tzinfo is UTC for at in read)
    if engines.write.dialect.name == "sqlite":
        assert stored[:3] == [
            "2026-11-30 12:34:56.123456",
            "2026-11-30 12:34:56.000000",
            "2000-01-01 04:59:59.999999",
        ]


async def test_a_naive_datetime_is_not_stored(engines: Engines) -> None:
    async with engines.write.begin() as connection:
        await connection.run_sync(instants.create)
        try:
            with pytest.raises(StatementError, match="naive datetimes are not stored"):
                await connection.execute(insert(instants), {"n": 1, "at": datetime(2026, 1, 1)})
        finally:
            await connection.rollback()
