"""One suite, three adapters: the in-memory fakes and SQLAlchemy on SQLite and on PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import pytest
from sqlalchemy import select

from shelfmark.catalog.infrastructure.unit_of_work import SqlAlchemyCatalogUnitOfWork
from shelfmark.lending.infrastructure.unit_of_work import SqlAlchemyLendingUnitOfWork
from shelfmark.patrons.infrastructure.unit_of_work import SqlAlchemyPatronsUnitOfWork
from shelfmark.seedwork.infrastructure.database import Engines
from shelfmark.seedwork.infrastructure.outbox import outbox
from tests.support.fakes import (
    FakeCatalogUnitOfWork,
    FakeLendingUnitOfWork,
    FakePatronsUnitOfWork,
    InMemoryDatabase,
)


class Adapters(Protocol):
    def catalog(self) -> Any: ...
    def patrons(self) -> Any: ...
    def lending(self) -> Any: ...
    async def event_names(self) -> list[str]: ...


@dataclass
class FakeAdapters:
    db: InMemoryDatabase

    def catalog(self) -> FakeCatalogUnitOfWork:
        return FakeCatalogUnitOfWork(self.db)

    def patrons(self) -> FakePatronsUnitOfWork:
        return FakePatronsUnitOfWork(self.db)

    def lending(self) -> FakeLendingUnitOfWork:
        return FakeLendingUnitOfWork(self.db)

    async def event_names(self) -> list[str]:
        return [e.name for e in self.db.outbox]


@dataclass
class SqlAdapters:
    engines: Engines

    def catalog(self) -> SqlAlchemyCatalogUnitOfWork:
        return SqlAlchemyCatalogUnitOfWork(self.engines.write)

    def patrons(self) -> SqlAlchemyPatronsUnitOfWork:
        return SqlAlchemyPatronsUnitOfWork(self.engines.write)

    def lending(self) -> SqlAlchemyLendingUnitOfWork:
        return SqlAlchemyLendingUnitOfWork(self.engines.write)

    async def event_names(self) -> list[str]:
        async with self.engines.read.connect() as connection:
            rows = await connection.execute(select(outbox.c.event_type).order_by(outbox.c.position))
            return [r.event_type for r in rows]


@pytest.fixture(params=["fake", "sqlite", "postgres"])
def adapters(request: pytest.FixtureRequest) -> Adapters:
    if request.param == "fake":
        return FakeAdapters(InMemoryDatabase())
    return SqlAdapters(request.getfixturevalue(f"{request.param}_engines"))


@pytest.fixture(params=["fake", "postgres"])
def interleaving_adapters(request: pytest.FixtureRequest) -> Adapters:
    """Adapters on which two write transactions can be open at once. SQLite cannot: its write
    transactions take the database lock up front (BEGIN IMMEDIATE), so they never interleave."""
    if request.param == "fake":
        return FakeAdapters(InMemoryDatabase())
    return SqlAdapters(request.getfixturevalue("postgres_engines"))
