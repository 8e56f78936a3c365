"""Patron domain events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from shelfmark.seedwork.domain import DomainEvent


@dataclass(frozen=True, kw_only=True)
class PatronRegistered(DomainEvent):
    first_name: str
    last_name: str
    email: str
    category: str
    card_expires_on: date


@dataclass(frozen=True, kw_only=True)
class PatronSuspended(DomainEvent):
    audited = True

    reason: str


@dataclass(frozen=True, kw_only=True)
class PatronReinstated(DomainEvent):
    audited = True


@dataclass(frozen=True, kw_only=True)
class PatronCategoryChanged(DomainEvent):
    audited = True

    previous: str
    category: str


@dataclass(frozen=True, kw_only=True)
class MembershipRenewed(DomainEvent):
    card_expires_on: date
