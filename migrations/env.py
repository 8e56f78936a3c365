"""Alembic environment: runs on a connection the application hands over (shelfmark migrate)."""

from __future__ import annotations

from alembic import context

from shelfmark.bootstrap.tables import is_ours, metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise SystemExit(
        "run migrations with `shelfmark migrate` (it supplies the database connection)"
    )

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    include_object=lambda _object, name, kind, _reflected, _compare_to: is_ours(name, kind),
)
with context.begin_transaction():
    context.run_migrations()
