"""Account table."""

from sqlalchemy import Boolean, Column, ForeignKey, Integer, String, Table, Uuid

from shelfmark.seedwork.infrastructure.metadata import metadata

accounts = Table(
    "accounts",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("username", String(254), nullable=False, unique=True),
    Column("role", String(20), nullable=False),
    Column("password_hash", String(255), nullable=False),
    Column("patron_id", Uuid, ForeignKey("patrons.id"), nullable=True, unique=True),
    Column("disabled", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
)
