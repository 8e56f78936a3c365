"""The patrons context's unit of work."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from shelfmark.patrons.infrastructure.repository import SqlAlchemyPatronRepository
from shelfmark.seedwork.infrastructure.unit_of_work import SqlAlchemyUnitOfWork, SqlRepository


class SqlAlchemyPatronsUnitOfWork(SqlAlchemyUnitOfWork):
    patrons: SqlAlchemyPatronRepository

    def _open(self, connection: AsyncConnection) -> None:
        self.patrons = SqlAlchemyPatronRepository(connection)

    def _repositories(self) -> Sequence[SqlRepository[Any]]:
        return [self.patrons]
