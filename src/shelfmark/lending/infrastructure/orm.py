"""Lending tables. An open loan is one with no `returned_at`; a copy has at most one."""

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
    Uuid,
)

from shelfmark.seedwork.infrastructure.metadata import metadata
from shelfmark.seedwork.infrastructure.types import UtcDateTime

loans = Table(
    "loans",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("book_id", Uuid, ForeignKey("books.id"), nullable=False, index=True),
    Column("copy_id", Uuid, ForeignKey("copies.id"), nullable=False),
    Column("barcode", String(32), nullable=False),
    Column("patron_id", Uuid, ForeignKey("patrons.id"), nullable=False),
    Column("borrowed_at", UtcDateTime, nullable=False),
    Column("due_at", UtcDateTime, nullable=False),
    Column("returned_at", UtcDateTime, nullable=True),
    Column("status", String(10), nullable=False),
    Column("renewals_used", Integer, nullable=False),
    Column("renewals_allowed", Integer, nullable=False),
    Column("loan_period_days", Integer, nullable=False),
    Column("fine_per_day_cents", Integer, nullable=False),
    Column("fine_grace_days", Integer, nullable=False),
    Column("fine_cap_cents", Integer, nullable=False),
    Column("replacement_cost_cents", Integer, nullable=False),
    Column("fines_assessed_cents", Integer, nullable=False),
    Column("fine_cents", Integer, nullable=True),
    Column("lost_at", UtcDateTime, nullable=True),
    Column("due_soon_notice_for", UtcDateTime, nullable=True),
    Column("version", Integer, nullable=False),
    # The invariant "a copy has at most one active loan", held by the database itself.
    Index(
        "uq_loans_open_copy",
        "copy_id",
        unique=True,
        sqlite_where=Column("returned_at").is_(None),
        postgresql_where=Column("returned_at").is_(None),
    ),
    Index("ix_loans_patron_borrowed", "patron_id", "borrowed_at", "id"),
    Index("ix_loans_borrowed_id", "borrowed_at", "id"),
)

fee_accounts = Table(
    "fee_accounts",
    metadata,
    Column("patron_id", Uuid, ForeignKey("patrons.id"), primary_key=True),
    Column("balance_cents", Integer, nullable=False),
    Column("version", Integer, nullable=False),
)

ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("patron_id", Uuid, ForeignKey("fee_accounts.patron_id"), nullable=False),
    Column("seq", Integer, nullable=False),  # the entry's place in its ledger, from 0
    Column("kind", String(20), nullable=False),
    Column("amount_cents", Integer, nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("loan_id", Uuid, ForeignKey("loans.id"), nullable=True),
    UniqueConstraint("patron_id", "seq"),
)

holds = Table(
    "holds",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("book_id", Uuid, ForeignKey("books.id"), nullable=False),
    Column("patron_id", Uuid, ForeignKey("patrons.id"), nullable=False, index=True),
    Column("placed_at", UtcDateTime, nullable=False),
    Column("queue_number", Integer, nullable=False),
    Column("restricted_ok", Boolean, nullable=False),
    Column("expires_at", UtcDateTime, nullable=True),
    Column("status", String(10), nullable=False),
    Column("copy_id", Uuid, ForeignKey("copies.id"), nullable=True),
    Column("pickup_deadline", UtcDateTime, nullable=True),
    Column("closed_at", UtcDateTime, nullable=True),
    Column("version", Integer, nullable=False),
    # First come, first served: one place per number in a book's queue.
    UniqueConstraint("book_id", "queue_number"),
    # A copy is kept on the hold shelf for one hold at most.
    Index(
        "uq_holds_ready_copy",
        "copy_id",
        unique=True,
        sqlite_where=Column("status") == "ready",
        postgresql_where=Column("status") == "ready",
    ),
)
