"""The Account repository over SQLAlchemy Core, and its unit of work."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shelfmark.access.domain.model import Account, AccountId, Role
from shelfmark.access.infrastructure.orm import accounts
from shelfmark.seedwork.infrastructure.unit_of_work import SqlAlchemyUnitOfWork, SqlRepository


class SqlAlchemyAccountRepository(SqlRepository[Account]):
    async def get(self, account_id: UUID) -> Account | None:
        return await self._one(accounts.c.id == account_id)

    async def by_username(self, username: str) -> Account | None:
        return await self._one(accounts.c.username == username)

    def add(self, account: Account) -> None:
        self._track(account, new=True)

    async def _one(self, condition: Any) -> Account | None:
        row = (await self.connection.execute(select(accounts).where(condition))).first()
        if row is None:
            return None
        return self._seen.get(row.id) or self._track(_account(row))

    async def _insert(self, account: Account) -> None:
        await self._insert_row(
            accounts,
            id=account.id,
            username=account.username,
            role=account.role.value,
            patron_id=account.patron_id,
            password_hash=account.password_hash,
            disabled=account.disabled,
            version=account.version + 1,
        )

    async def _update(self, account: Account) -> None:
        await self._update_versioned(
            accounts,
            accounts.c.id,
            account,
            {"password_hash": account.password_hash, "disabled": account.disabled},
        )


def _account(row: Row[Any]) -> Account:
    account = Account(
        AccountId(row.id),
        username=row.username,
        role=Role(row.role),
        password_hash=row.password_hash,
        patron_id=row.patron_id,
        disabled=row.disabled,
    )
    account.version = row.version
    return account


class SqlAlchemyAccessUnitOfWork(SqlAlchemyUnitOfWork):
    accounts: SqlAlchemyAccountRepository

    def _open(self, connection: AsyncConnection) -> None:
        self.accounts = SqlAlchemyAccountRepository(connection)

    def _repositories(self) -> Sequence[SqlRepository[Any]]:
        return [self.accounts]


async def staff_exists(engine: AsyncEngine) -> bool:
    async with engine.connect() as connection:
        query = select(accounts.c.id).where(accounts.c.role != Role.PATRON.value).limit(1)
        return await connection.scalar(query) is not None
