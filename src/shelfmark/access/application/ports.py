"""What the account use cases need from the outside."""

from __future__ import annotations

from typing import Protocol
from uuid import UUID

from shelfmark.access.domain.model import Account
from shelfmark.seedwork.application import UnitOfWork


class PasswordHasher(Protocol):
    def hash(self, password: str) -> str: ...

    def verify(self, password_hash: str, password: str) -> bool: ...


class AccountRepository(Protocol):
    async def get(self, account_id: UUID) -> Account | None: ...

    async def by_username(self, username: str) -> Account | None: ...

    def add(self, account: Account) -> None: ...


class AccessUnitOfWork(UnitOfWork, Protocol):
    @property
    def accounts(self) -> AccountRepository: ...
