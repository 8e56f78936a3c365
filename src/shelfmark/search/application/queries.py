"""What a search asks and what it finds."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from shelfmark.seedwork.pagination import Page


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


@dataclass(frozen=True)
class SearchPage(Page[BookHit]):
    """A page of a search, and whether only a new book holding every word can change it: the
    words were found as words (not near spellings instead) in an order that does not depend on
    the rest of the catalogue (popularity, or PostgreSQL's `ts_rank`; not SQLite's bm25, which
    weighs each word by how many entries hold it, so any new book moves every rank). False
    without words."""

    words_only: bool = False
