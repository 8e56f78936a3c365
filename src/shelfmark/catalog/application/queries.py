"""Catalog read models and query filters."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID


@dataclass(frozen=True)
class BookFilter:
    q: str | None = None
    title: str | None = None
    author: str | None = None
    isbn: str | None = None
    available: bool | None = None  # a copy is on the shelf


@dataclass(frozen=True)
class CopyView:
    id: UUID
    barcode: str
    circulation: str


@dataclass(frozen=True)
class BookSummary:
    id: UUID
    isbn: str | None
    title: str
    author: str
    published_year: int | None
    copy_ids: tuple[UUID, ...]


@dataclass(frozen=True)
class BookDetails:
    id: UUID
    isbn: str | None
    title: str
    author: str
    published_year: int | None
    copies: tuple[CopyView, ...]
