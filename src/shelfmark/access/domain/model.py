"""The Account aggregate: a login with a role; a patron's account belongs to that patron."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from enum import StrEnum
from typing import NewType

from shelfmark.access.domain.events import AccountCreated, AccountDisabled, PasswordReset
from shelfmark.seedwork.domain import AggregateRoot, Conflict, InvalidValue

AccountId = NewType("AccountId", uuid.UUID)

_STAFF_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,49}$")
MIN_PASSWORD, MAX_PASSWORD = 8, 128


class Role(StrEnum):
    PATRON = "patron"
    LIBRARIAN = "librarian"
    ADMIN = "admin"

    @property
    def is_staff(self) -> bool:
        return self is not Role.PATRON


class UsernameTaken(Conflict):
    code = "USERNAME_TAKEN"


def check_password(password: str) -> str:
    """Length is the rule that matters (NIST 800-63B): 8..128 characters, anything allowed."""
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidValue("password", f"a password has {MIN_PASSWORD}..{MAX_PASSWORD} characters")
    return password


def staff_username(raw: str) -> str:
    name = raw.strip().lower()
    if not _STAFF_NAME.match(name):
        raise InvalidValue("username", "3..50 of a-z, 0-9, '.', '_' or '-', starting alphanumeric")
    return name


class Account(AggregateRoot):
    id: AccountId

    def __init__(
        self,
        id: AccountId,
        *,
        username: str,
        role: Role,
        password_hash: str,
        patron_id: uuid.UUID | None = None,
        disabled: bool = False,
    ) -> None:
        super().__init__()
        self.id = id
        self.username = username
        self.role = role
        self.password_hash = password_hash
        self.patron_id = patron_id
        self.disabled = disabled

    @classmethod
    def open(
        cls,
        *,
        username: str,
        role: Role,
        password_hash: str,
        patron_id: uuid.UUID | None,
        now: datetime,
        actor: str,
    ) -> Account:
        if (role is Role.PATRON) != (patron_id is not None):
            raise InvalidValue("role", "a patron account, and only one, names its patron")
        account = cls(
            AccountId(uuid.uuid4()),
            username=username,
            role=role,
            password_hash=password_hash,
            patron_id=patron_id,
        )
        account.record(
            AccountCreated(
                aggregate_id=account.id,
                occurred_at=now,
                actor=actor,
                username=username,
                role=role.value,
            )
        )
        return account

    def disable(self, now: datetime, actor: str) -> None:
        if not self.disabled:
            self.disabled = True
            self.record(AccountDisabled(aggregate_id=self.id, occurred_at=now, actor=actor))

    def reset_password(self, password_hash: str, now: datetime, actor: str) -> None:
        """A new password; re-enables a disabled account (the admin vouches for it)."""
        self.password_hash = password_hash
        self.disabled = False
        self.record(PasswordReset(aggregate_id=self.id, occurred_at=now, actor=actor))
