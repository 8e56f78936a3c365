"""holds, daily job runs, lost and due-soon marks on loans

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_runs",
        sa.Column("job", sa.String(length=100), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("job", "day", name=op.f("pk_job_runs")),
    )
    op.create_table(
        "holds",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("book_id", sa.Uuid(), nullable=False),
        sa.Column("patron_id", sa.Uuid(), nullable=False),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("queue_number", sa.Integer(), nullable=False),
        sa.Column("restricted_ok", sa.Boolean(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("copy_id", sa.Uuid(), nullable=True),
        sa.Column("pickup_deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["book_id"], ["books.id"], name=op.f("fk_holds_book_id_books")),
        sa.ForeignKeyConstraint(["copy_id"], ["copies.id"], name=op.f("fk_holds_copy_id_copies")),
        sa.ForeignKeyConstraint(
            ["patron_id"], ["patrons.id"], name=op.f("fk_holds_patron_id_patrons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_holds")),
        sa.UniqueConstraint("book_id", "queue_number", name=op.f("uq_holds_book_id_queue_number")),
    )
    op.create_index(op.f("ix_holds_patron_id"), "holds", ["patron_id"], unique=False)
    op.create_index(
        "uq_holds_ready_copy",
        "holds",
        ["copy_id"],
        unique=True,
        sqlite_where=sa.text("status = 'ready'"),
        postgresql_where=sa.text("status = 'ready'"),
    )

    with op.batch_alter_table("loans", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lost_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("due_soon_notice_for", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("loans", schema=None) as batch_op:
        batch_op.drop_column("due_soon_notice_for")
        batch_op.drop_column("lost_at")

    op.drop_index(
        "uq_holds_ready_copy",
        table_name="holds",
        sqlite_where=sa.text("status = 'ready'"),
        postgresql_where=sa.text("status = 'ready'"),
    )
    op.drop_index(op.f("ix_holds_patron_id"), table_name="holds")

    op.drop_table("holds")
    op.drop_table("job_runs")
