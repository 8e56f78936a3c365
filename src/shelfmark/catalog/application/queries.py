"""Catalog read models."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID


@dataclass(frozen=True)
class CopyView:
    id: UUID
    barcode: str
    circulation: str


@dataclass(frozen=True)
class BookHeading:
    """What a message about a book names it by."""

    title: str
    author: str


@dataclass(frozen=True)
class BookDetails:
    id: UUID
    isbn: str | None
    title: str
    author: str
    published_year: int | None
    copies: tuple[CopyView, ...]
