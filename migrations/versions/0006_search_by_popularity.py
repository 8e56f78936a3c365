"""search: a stored word vector and a popularity order

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30

PostgreSQL: the words of each entry are stored (title weighted above author) instead of being
computed from `search_text` by the index expression, so ranking and rechecking a match read a
column instead of running unaccent and the parser again. Adding the column rewrites the table
(about a minute at a million books).

Both databases: an index in popularity order (copies, then id), which a query holding a common
word walks instead of ranking every entry that holds it.
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

POSTGRES_UP = [
    """ALTER TABLE book_search ADD COLUMN document tsvector GENERATED ALWAYS AS (
       setweight(to_tsvector('simple'::regconfig, shelfmark_unaccent(title)), 'A')
       || setweight(to_tsvector('simple'::regconfig, shelfmark_unaccent(author)), 'B')) STORED""",
    "CREATE INDEX ix_book_search_words ON book_search USING gin (document)",
    "DROP INDEX ix_book_search_document",
]
POSTGRES_DOWN = [
    """CREATE INDEX ix_book_search_document ON book_search
       USING gin (to_tsvector('simple'::regconfig, shelfmark_unaccent(search_text)))""",
    "DROP INDEX ix_book_search_words",
    "ALTER TABLE book_search DROP COLUMN document",
]


def upgrade() -> None:
    op.create_index("ix_book_search_popularity", "book_search", ["copies_total", "book_id"])
    if op.get_bind().dialect.name == "postgresql":
        for statement in POSTGRES_UP:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in POSTGRES_DOWN:
            op.execute(statement)
    op.drop_index("ix_book_search_popularity", table_name="book_search")
