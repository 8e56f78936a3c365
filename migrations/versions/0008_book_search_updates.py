"""book_search: the FTS5 index follows an entry's title and author when they are updated

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30

An index refresh used to delete a book's entry and insert it again, so SQLite's FTS5 index took
the book's words out and put them back on every loan, return and hold (two-thirds of a
refresh's time in SQLite). A refresh now updates the entry in place: the copy and hold counts
on every refresh, the title and author only when they differ from the book's. This trigger
keeps the FTS5 index in step with the latter; updates of the counts leave it alone.

PostgreSQL needs nothing: its `document` column is generated from the title and author.
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

SQLITE_UP = [
    """CREATE TRIGGER book_search_fts_update AFTER UPDATE OF title, author ON book_search BEGIN
       INSERT INTO book_search_fts(book_search_fts, rowid, title, author)
       VALUES ('delete', old.rowid, old.title, old.author);
       INSERT INTO book_search_fts(rowid, title, author)
       VALUES (new.rowid, new.title, new.author); END""",
]
SQLITE_DOWN = ["DROP TRIGGER book_search_fts_update"]


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_UP:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_DOWN:
            op.execute(statement)
