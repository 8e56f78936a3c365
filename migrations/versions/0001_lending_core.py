"""lending core: catalog, patrons, loans, fees, outbox, idempotency

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "books",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("isbn", sa.String(length=13), nullable=True),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("published_year", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_books")),
        sa.UniqueConstraint("isbn", name=op.f("uq_books_isbn")),
    )
    op.create_index("ix_books_title_id", "books", ["title", "id"], unique=False)

    op.create_table(
        "idempotency_keys",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("content_type", sa.String(length=100), nullable=True),
        sa.Column("location", sa.String(length=500), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_idempotency_keys")),
    )
    op.create_index(
        op.f("ix_idempotency_keys_created_at"), "idempotency_keys", ["created_at"], unique=False
    )

    op.create_table(
        "outbox",
        sa.Column(
            "position",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column("aggregate_id", sa.Uuid(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("position", name=op.f("pk_outbox")),
        sa.UniqueConstraint("event_id", name=op.f("uq_outbox_event_id")),
    )
    op.create_index(
        "ix_outbox_unpublished",
        "outbox",
        ["position"],
        unique=False,
        sqlite_where=sa.text("published_at IS NULL"),
        postgresql_where=sa.text("published_at IS NULL"),
    )

    op.create_table(
        "patrons",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("card_expires_on", sa.Date(), nullable=False),
        sa.Column("suspended_reason", sa.String(length=500), nullable=True),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patrons")),
        sa.UniqueConstraint("email", name=op.f("uq_patrons_email")),
    )
    op.create_index(
        "ix_patrons_name_id", "patrons", ["last_name", "first_name", "id"], unique=False
    )

    op.create_table(
        "copies",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("book_id", sa.Uuid(), nullable=False),
        sa.Column("barcode", sa.String(length=32), nullable=False),
        sa.Column("circulation", sa.String(length=20), nullable=False),
        sa.Column("replacement_cost_cents", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["book_id"], ["books.id"], name=op.f("fk_copies_book_id_books")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_copies")),
        sa.UniqueConstraint("barcode", name=op.f("uq_copies_barcode")),
    )
    op.create_index(op.f("ix_copies_book_id"), "copies", ["book_id"], unique=False)

    op.create_table(
        "fee_accounts",
        sa.Column("patron_id", sa.Uuid(), nullable=False),
        sa.Column("balance_cents", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["patron_id"], ["patrons.id"], name=op.f("fk_fee_accounts_patron_id_patrons")
        ),
        sa.PrimaryKeyConstraint("patron_id", name=op.f("pk_fee_accounts")),
    )
    op.create_table(
        "loans",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("book_id", sa.Uuid(), nullable=False),
        sa.Column("copy_id", sa.Uuid(), nullable=False),
        sa.Column("barcode", sa.String(length=32), nullable=False),
        sa.Column("patron_id", sa.Uuid(), nullable=False),
        sa.Column("borrowed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("returned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("renewals_used", sa.Integer(), nullable=False),
        sa.Column("renewals_allowed", sa.Integer(), nullable=False),
        sa.Column("loan_period_days", sa.Integer(), nullable=False),
        sa.Column("fine_per_day_cents", sa.Integer(), nullable=False),
        sa.Column("fine_grace_days", sa.Integer(), nullable=False),
        sa.Column("fine_cap_cents", sa.Integer(), nullable=False),
        sa.Column("replacement_cost_cents", sa.Integer(), nullable=False),
        sa.Column("fines_assessed_cents", sa.Integer(), nullable=False),
        sa.Column("fine_cents", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["book_id"], ["books.id"], name=op.f("fk_loans_book_id_books")),
        sa.ForeignKeyConstraint(["copy_id"], ["copies.id"], name=op.f("fk_loans_copy_id_copies")),
        sa.ForeignKeyConstraint(
            ["patron_id"], ["patrons.id"], name=op.f("fk_loans_patron_id_patrons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loans")),
    )
    op.create_index(op.f("ix_loans_book_id"), "loans", ["book_id"], unique=False)
    op.create_index("ix_loans_borrowed_id", "loans", ["borrowed_at", "id"], unique=False)
    op.create_index(
        "ix_loans_patron_borrowed", "loans", ["patron_id", "borrowed_at", "id"], unique=False
    )
    op.create_index(
        "uq_loans_open_copy",
        "loans",
        ["copy_id"],
        unique=True,
        sqlite_where=sa.text("returned_at IS NULL"),
        postgresql_where=sa.text("returned_at IS NULL"),
    )

    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("patron_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("loan_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["loan_id"], ["loans.id"], name=op.f("fk_ledger_entries_loan_id_loans")
        ),
        sa.ForeignKeyConstraint(
            ["patron_id"],
            ["fee_accounts.patron_id"],
            name=op.f("fk_ledger_entries_patron_id_fee_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entries")),
        sa.UniqueConstraint("patron_id", "seq", name=op.f("uq_ledger_entries_patron_id_seq")),
    )


def downgrade() -> None:
    op.drop_table("ledger_entries")
    op.drop_index(
        "uq_loans_open_copy",
        table_name="loans",
        sqlite_where=sa.text("returned_at IS NULL"),
        postgresql_where=sa.text("returned_at IS NULL"),
    )
    op.drop_index("ix_loans_patron_borrowed", table_name="loans")
    op.drop_index("ix_loans_borrowed_id", table_name="loans")
    op.drop_index(op.f("ix_loans_book_id"), table_name="loans")

    op.drop_table("loans")
    op.drop_table("fee_accounts")
    op.drop_index(op.f("ix_copies_book_id"), table_name="copies")

    op.drop_table("copies")
    op.drop_index("ix_patrons_name_id", table_name="patrons")

    op.drop_table("patrons")
    op.drop_index(
        "ix_outbox_unpublished",
        table_name="outbox",
        sqlite_where=sa.text("published_at IS NULL"),
        postgresql_where=sa.text("published_at IS NULL"),
    )

    op.drop_table("outbox")
    op.drop_index(op.f("ix_idempotency_keys_created_at"), table_name="idempotency_keys")

    op.drop_table("idempotency_keys")
    op.drop_index("ix_books_title_id", table_name="books")

    op.drop_table("books")
