"""Migrations are the schema's single owner: they match the code's tables, and they go down
and up again cleanly (the stairway), on SQLite and on PostgreSQL alike."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from shelfmark.bootstrap import migrations
from shelfmark.bootstrap.tables import is_ours, metadata
from shelfmark.seedwork.infrastructure.database import Engines


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection,
        opts={
            "compare_type": True,
            "include_object": lambda _o, name, kind, _r, _c: is_ours(name, kind),
        },
    )
    return list(compare_metadata(context, metadata))


def _tables(connection: Connection) -> set[str]:
    names = set(inspect(connection).get_table_names()) - {"alembic_version"}
    return {name for name in names if is_ours(name, "table")}


def _open_loan_index(connection: Connection) -> dict[str, Any]:
    return next(
        i for i in inspect(connection).get_indexes("loans") if i["name"] == "uq_loans_open_copy"
    )


async def test_the_migrated_schema_matches_the_code(engines: Engines) -> None:
    async with engines.write.connect() as connection:
        assert await connection.run_sync(_differences) == []


async def test_the_partial_unique_index_on_the_open_loan_exists(engines: Engines) -> None:
    async with engines.write.connect() as connection:
        index = await connection.run_sync(_open_loan_index)
    assert index["unique"]
    assert index["column_names"] == ["copy_id"]


async def test_stairway_every_revision_goes_down_and_up_again(engines: Engines) -> None:
    revisions = list(ScriptDirectory.from_config(migrations.alembic_config()).walk_revisions())
    for revision in revisions:  # newest first
        await migrations.downgrade(engines.write, revision.down_revision or "base")
        await migrations.upgrade(engines.write, revision.revision)
    await migrations.downgrade(engines.write, "base")
    async with engines.write.connect() as connection:
        assert await connection.run_sync(_tables) == set()
    await migrations.upgrade(engines.write)
    async with engines.write.connect() as connection:
        assert await connection.run_sync(_tables) == set(metadata.tables)
