"""Catalog domain events."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from shelfmark.seedwork.domain import DomainEvent
from shelfmark.seedwork.money import Money


@dataclass(frozen=True, kw_only=True)
class BookAdded(DomainEvent):
    title: str
    author: str
    isbn: str | None
    published_year: int | None


@dataclass(frozen=True, kw_only=True)
class CopyAdded(DomainEvent):
    copy_id: UUID
    barcode: str
    circulation: str
    replacement_cost: Money
