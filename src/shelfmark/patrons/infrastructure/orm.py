"""Patron tables, and the search index that migration 0007 adds beside them."""

from sqlalchemy import Column, Date, Index, Integer, String, Table, Uuid, column, table

from shelfmark.seedwork.infrastructure.metadata import metadata
from shelfmark.seedwork.infrastructure.types import UtcDateTime

patrons = Table(
    "patrons",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("first_name", String(100), nullable=False),
    Column("last_name", String(100), nullable=False),
    Column("email", String(254), nullable=False, unique=True),
    Column("category", String(20), nullable=False),
    Column("card_expires_on", Date, nullable=False),
    Column("suspended_reason", String(500), nullable=True),
    Column("registered_at", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    Index("ix_patrons_name_id", "last_name", "first_name", "id"),
)

#: SQLite's FTS5 index of "first last email" by patron id (trigram tokenizer, kept by triggers).
patron_search_fts = table("patron_search_fts", column("patron_id"))
#: PostgreSQL's trigram index over the searched expression, which the metadata cannot describe.
PATRON_SEARCH_INDEX = "ix_patrons_search_trigrams"
