"""The catalog's unit of work."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from shelfmark.catalog.infrastructure.repository import SqlAlchemyBookRepository
from shelfmark.seedwork.infrastructure.unit_of_work import SqlAlchemyUnitOfWork, SqlRepository


class SqlAlchemyCatalogUnitOfWork(SqlAlchemyUnitOfWork):
    books: SqlAlchemyBookRepository

    def _open(self, connection: AsyncConnection) -> None:
        self.books = SqlAlchemyBookRepository(connection)

    def _repositories(self) -> Sequence[SqlRepository[Any]]:
        return [self.books]
