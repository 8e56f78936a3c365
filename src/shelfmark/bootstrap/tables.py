"""Every table of every context on the one MetaData: what Alembic compares migrations with."""

from shelfmark.access.infrastructure import orm as access_tables
from shelfmark.catalog.infrastructure import orm as catalog_tables
from shelfmark.lending.infrastructure import orm as lending_tables
from shelfmark.notifications.infrastructure import orm as notification_tables
from shelfmark.patrons.infrastructure import orm as patron_tables
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
]
