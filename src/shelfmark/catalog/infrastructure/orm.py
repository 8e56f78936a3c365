"""Catalog tables."""

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table, Uuid

from shelfmark.seedwork.infrastructure.metadata import metadata

books = Table(
    "books",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("isbn", String(13), nullable=True, unique=True),
    Column("title", String(300), nullable=False),
    Column("author", String(200), nullable=False),
    Column("published_year", Integer, nullable=True),
    Column("version", Integer, nullable=False),
    Index("ix_books_title_id", "title", "id"),
)

copies = Table(
    "copies",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("book_id", Uuid, ForeignKey("books.id"), nullable=False, index=True),
    Column("barcode", String(32), nullable=False, unique=True),
    Column("circulation", String(20), nullable=False),
    Column("replacement_cost_cents", Integer, nullable=False),
)
