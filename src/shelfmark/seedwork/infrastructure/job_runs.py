"""Which scheduled job ran for which day: the first process to claim a (job, day) runs it."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Date, String, Table, delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from shelfmark.seedwork.infrastructure.metadata import metadata
from shelfmark.seedwork.infrastructure.transaction import writing
from shelfmark.seedwork.infrastructure.types import UtcDateTime
from shelfmark.seedwork.infrastructure.unit_of_work import is_unique_violation

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
            async with writing(self._engine) as connection:
                await connection.execute(job_runs.insert().values(job=job, day=day, started_at=now))
        except IntegrityError as error:
            if is_unique_violation(error):
                return False
            raise
        return True

    async def release(self, job: str, day: date) -> None:
        """Gives up a claim whose run failed, so the next look at the clock tries again."""
        async with writing(self._engine) as connection:
            await connection.execute(
                delete(job_runs).where(job_runs.c.job == job, job_runs.c.day == day)
            )

    async def finish(self, job: str, day: date, now: datetime) -> None:
        async with writing(self._engine) as connection:
            await connection.execute(
                update(job_runs)
                .where(job_runs.c.job == job, job_runs.c.day == day)
                .values(finished_at=now)
            )
