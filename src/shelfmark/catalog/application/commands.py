"""Catalog commands."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from shelfmark.catalog.domain.values import Circulation


@dataclass(frozen=True)
class AddBook:
    title: str
    author: str
    isbn: str | None = None
    published_year: int | None = None
    copies: int = 1
    circulation: Circulation = Circulation.CIRCULATING
    actor: str = "system"


@dataclass(frozen=True)
class AddCopy:
    book_id: UUID
    barcode: str | None = None
    circulation: Circulation = Circulation.CIRCULATING
    replacement_cost: Decimal | None = None
    actor: str = "system"
