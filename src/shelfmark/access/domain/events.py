"""Account events. They are audited: who made or changed a login, and when."""

from __future__ import annotations

from dataclasses import dataclass

from shelfmark.seedwork.domain import DomainEvent


@dataclass(frozen=True, kw_only=True)
class AccountCreated(DomainEvent):
    audited = True

    username: str
    role: str


@dataclass(frozen=True, kw_only=True)
class AccountDisabled(DomainEvent):
    audited = True


@dataclass(frozen=True, kw_only=True)
class PasswordReset(DomainEvent):
    audited = True
