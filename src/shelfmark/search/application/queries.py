"""What a search asks and what it finds."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID


@dataclass(frozen=True)
class SearchQuery:
    q: str | None = None
    title: str | None = None
    author: str | None = None
    isbn: str | None = None  #: normalised ISBN-13 (the caller parses what the user typed)
    available: bool | None = None


@dataclass(frozen=True)
class BookHit:
    """One book as the index knows it (as of the last event it applied)."""

    id: UUID
    isbn: str | None
    title: str
    author: str
    published_year: int | None
    copies_total: int
    copies_available: int
    copies_on_hold_shelf: int
    holds_waiting: int
