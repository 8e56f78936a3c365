"""The book index table. Full-text search comes on top, per database, from the migrations:
on PostgreSQL a stored `document` column (the unaccented words, title weighted above author)
with a GIN index, and a GIN trigram index for typos; on SQLite an FTS5 table
`book_search_fts` kept in step by triggers."""

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
    # Popularity order (most copies first, then id, both descending) for common words.
    Index("ix_book_search_popularity", "copies_total", "book_id"),
)

#: Tables the migration creates beside the metadata's (SQLite's FTS5 index and its shadows).
FTS_TABLE_PREFIX = "book_search_fts"
#: PostgreSQL's full-text column and indexes, which the metadata cannot describe.
FTS_COLUMNS = frozenset({"document"})
FTS_INDEXES = frozenset({"ix_book_search_words", "ix_book_search_trigrams"})
