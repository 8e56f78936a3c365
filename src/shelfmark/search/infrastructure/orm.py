"""The book index table. Full-text indexes come on top, per database, from the migration:
on PostgreSQL GIN expression indexes (tsvector over unaccented words; trigrams for typos and
prefixes), on SQLite an FTS5 table `book_search_fts` kept in step by triggers."""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, String, Table, Uuid

from shelfmark.seedwork.infrastructure.metadata import metadata
from shelfmark.seedwork.infrastructure.types import UtcDateTime

book_search = Table(
    "book_search",
    metadata,
    Column("book_id", Uuid, primary_key=True),
    Column("title", String(300), nullable=False),
    Column("author", String(200), nullable=False),
    Column("isbn", String(13), nullable=True),
    Column("published_year", Integer, nullable=True),
    Column("search_text", String(510), nullable=False),
    Column("copies_total", Integer, nullable=False),
    Column("copies_available", Integer, nullable=False),
    Column("copies_on_hold_shelf", Integer, nullable=False),
    Column("holds_waiting", Integer, nullable=False),
    Column("refreshed_at", UtcDateTime, nullable=False),
    Index("ix_book_search_title_book_id", "title", "book_id"),
    Index("ix_book_search_isbn", "isbn"),
)

#: Tables the migration creates beside the metadata's (SQLite's FTS5 index and its shadows).
FTS_TABLE_PREFIX = "book_search_fts"
#: PostgreSQL's expression indexes for full text, which the metadata cannot describe.
FTS_INDEXES = frozenset({"ix_book_search_document", "ix_book_search_trigrams"})
