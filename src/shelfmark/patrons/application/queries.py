"""Patron read models and filters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID


@dataclass(frozen=True)
class PatronFilter:
    q: str | None = None
    category: str | None = None
    suspended: bool | None = None


@dataclass(frozen=True)
class PatronView:
    id: UUID
    first_name: str
    last_name: str
    email: str
    category: str
    card_expires_on: date
    suspended_reason: str | None
    registered_at: datetime

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"
