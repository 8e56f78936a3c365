"""the book search index

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# PostgreSQL: unaccent() is only STABLE, so an IMMUTABLE wrapper naming its dictionary is what
# an index expression may use. The GIN indexes repeat the search's expressions exactly.
POSTGRES_UP = [
    "CREATE EXTENSION IF NOT EXISTS unaccent",
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    """CREATE FUNCTION shelfmark_unaccent(text) RETURNS text
       LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
       AS $$ SELECT public.unaccent('public.unaccent'::regdictionary, $1) $$""",
    """CREATE INDEX ix_book_search_document ON book_search
       USING gin (to_tsvector('simple'::regconfig, shelfmark_unaccent(search_text)))""",
    """CREATE INDEX ix_book_search_trigrams ON book_search
       USING gin (shelfmark_unaccent(search_text) gin_trgm_ops)""",
]
POSTGRES_DOWN = [
    "DROP INDEX ix_book_search_trigrams",
    "DROP INDEX ix_book_search_document",
    "DROP FUNCTION shelfmark_unaccent(text)",
]

# SQLite: an FTS5 index over the table's title and author, kept in step by triggers.
SQLITE_UP = [
    """CREATE VIRTUAL TABLE book_search_fts USING fts5(
       title, author, content='book_search', content_rowid='rowid',
       tokenize='unicode61 remove_diacritics 2')""",
    """CREATE TRIGGER book_search_fts_insert AFTER INSERT ON book_search BEGIN
       INSERT INTO book_search_fts(rowid, title, author)
       VALUES (new.rowid, new.title, new.author); END""",
    """CREATE TRIGGER book_search_fts_delete AFTER DELETE ON book_search BEGIN
       INSERT INTO book_search_fts(book_search_fts, rowid, title, author)
       VALUES ('delete', old.rowid, old.title, old.author); END""",
]
SQLITE_DOWN = [
    "DROP TRIGGER book_search_fts_delete",
    "DROP TRIGGER book_search_fts_insert",
    "DROP TABLE book_search_fts",
]


def upgrade() -> None:
    op.create_table(
        "book_search",
        sa.Column("book_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("isbn", sa.String(length=13), nullable=True),
        sa.Column("published_year", sa.Integer(), nullable=True),
        sa.Column("search_text", sa.String(length=510), nullable=False),
        sa.Column("copies_total", sa.Integer(), nullable=False),
        sa.Column("copies_available", sa.Integer(), nullable=False),
        sa.Column("copies_on_hold_shelf", sa.Integer(), nullable=False),
        sa.Column("holds_waiting", sa.Integer(), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("book_id", name=op.f("pk_book_search")),
    )
    op.create_index("ix_book_search_title_book_id", "book_search", ["title", "book_id"])
    op.create_index("ix_book_search_isbn", "book_search", ["isbn"])
    dialect = op.get_bind().dialect.name
    for statement in {"postgresql": POSTGRES_UP, "sqlite": SQLITE_UP}.get(dialect, []):
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for statement in {"postgresql": POSTGRES_DOWN, "sqlite": SQLITE_DOWN}.get(dialect, []):
        op.execute(statement)
    op.drop_index("ix_book_search_isbn", table_name="book_search")
    op.drop_index("ix_book_search_title_book_id", table_name="book_search")
    op.drop_table("book_search")
