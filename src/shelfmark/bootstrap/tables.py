"""Every table of every context on the one MetaData: what Alembic compares migrations with."""

from shelfmark.access.infrastructure import orm as access_tables
from shelfmark.catalog.infrastructure import orm as catalog_tables
from shelfmark.lending.infrastructure import orm as lending_tables
from shelfmark.notifications.infrastructure import orm as notification_tables
from shelfmark.patrons.infrastructure import orm as patron_tables
from shelfmark.patrons.infrastructure.orm import PATRON_SEARCH_INDEX, patron_search_fts
from shelfmark.search.infrastructure import orm as search_tables
from shelfmark.search.infrastructure.orm import FTS_COLUMNS, FTS_INDEXES, FTS_TABLE_PREFIX
from shelfmark.seedwork.infrastructure import dead_letters, idempotency, inbox, job_runs, outbox
from shelfmark.seedwork.infrastructure.metadata import metadata

__all__ = [
    "access_tables",
    "catalog_tables",
    "dead_letters",
    "idempotency",
    "inbox",
    "job_runs",
    "lending_tables",
    "metadata",
    "notification_tables",
    "outbox",
    "patron_tables",
    "search_tables",
]


def is_ours(name: str | None, kind: str) -> bool:
    """What Alembic compares with the code's tables: all but what a migration creates beside
    them for full-text search (SQLite's FTS5 tables, PostgreSQL's word column and indexes)."""
    if name is None:
        return True
    if kind == "table":
        return not name.startswith((FTS_TABLE_PREFIX, patron_search_fts.name))
    if kind == "column":
        return name not in FTS_COLUMNS
    return not (kind == "index" and name in FTS_INDEXES | {PATRON_SEARCH_INDEX})
