"""The lending context's unit of work."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from shelfmark.lending.infrastructure.acl import SqlCopyAvailability, SqlPatronStanding
from shelfmark.lending.infrastructure.hold_repository import SqlAlchemyHoldRepository
from shelfmark.lending.infrastructure.repository import (
    SqlAlchemyFeeAccountRepository,
    SqlAlchemyLoanRepository,
)
from shelfmark.seedwork.infrastructure.unit_of_work import SqlAlchemyUnitOfWork, SqlRepository


class SqlAlchemyLendingUnitOfWork(SqlAlchemyUnitOfWork):
    loans: SqlAlchemyLoanRepository
    accounts: SqlAlchemyFeeAccountRepository
    patrons: SqlPatronStanding
    copies: SqlCopyAvailability
    holds: SqlAlchemyHoldRepository

    def _open(self, connection: AsyncConnection) -> None:
        self.loans = SqlAlchemyLoanRepository(connection)
        self.accounts = SqlAlchemyFeeAccountRepository(connection)
        self.patrons = SqlPatronStanding(connection, lock=True)
        self.copies = SqlCopyAvailability(connection, lock=True)
        self.holds = SqlAlchemyHoldRepository(connection)

    def _repositories(self) -> Sequence[SqlRepository[Any]]:
        return [self.loans, self.holds, self.accounts]
