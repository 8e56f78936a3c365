"""Which scheduled job ran for which day: the first process to claim a (job, day) runs it."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Date, String, Table, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from shelfmark.seedwork.infrastructure.metadata import metadata
from shelfmark.seedwork.infrastructure.types import UtcDateTime

job_runs = Table(
    "job_runs",
    metadata,
    Column("job", String(100), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime, nullable=True),
)


class SqlJobRuns:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def claim(self, job: str, day: date, now: datetime) -> bool:
        """True for exactly one caller per (job, day), across processes."""
        try:
            async with self._engine.begin() as connection:
                await connection.execute(job_runs.insert().values(job=job, day=day, started_at=now))
        except IntegrityError:
            return False
        return True

    async def finish(self, job: str, day: date, now: datetime) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                update(job_runs)
                .where(job_runs.c.job == job, job_runs.c.day == day)
                .values(finished_at=now)
            )
