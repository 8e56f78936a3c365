"""Patron commands."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID


@dataclass(frozen=True)
class RegisterPatron:
    first_name: str
    last_name: str
    email: str
    category: str = "regular"
    actor: str = "system"


@dataclass(frozen=True)
class SuspendPatron:
    patron_id: UUID
    reason: str
    actor: str = "system"


@dataclass(frozen=True)
class ReinstatePatron:
    patron_id: UUID
    actor: str = "system"


@dataclass(frozen=True)
class UpgradePatron:
    patron_id: UUID
    category: str
    actor: str = "system"


@dataclass(frozen=True)
class RenewMembership:
    patron_id: UUID
    actor: str = "system"
