"""`shelfmark backup` while the application keeps writing, then `shelfmark restore` into a fresh
database, on both backends, through real processes: the copy is one point in time that holds
everything committed before the backup began, it is sound, and its schema is current. A restore
refuses a database that is not empty unless forced."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, select
from sqlalchemy.engine import Connection, make_url

from shelfmark.bootstrap import Shelfmark, bootstrap, migrations
from shelfmark.bootstrap.tables import is_ours, metadata
from shelfmark.catalog.application.commands import AddBook
from shelfmark.catalog.infrastructure.orm import books
from shelfmark.config import Settings
from shelfmark.entrypoints.backup import libpq_conninfo, libpq_environment
from shelfmark.entrypoints.seeding import seed_database
from shelfmark.lending.application.commands import BorrowBook, ReturnLoan
from shelfmark.lending.infrastructure.orm import loans
from shelfmark.patrons.application.commands import RegisterPatron
from shelfmark.seedwork.infrastructure.database import Engines, create_engines
from tests.support.clock import MutableClock
from tests.support.databases import fresh_postgres_database, sqlite_url

WRITER_AUTHOR = "Backup Writer"
WARM_UP_ROUNDS = 20
CLI_TIMEOUT_SECONDS = 120


@dataclass(frozen=True)
class Databases:
    """The database the application writes to and an empty one to restore into."""

    source: str
    target: str


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def databases(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Databases]:
    if request.param == "sqlite":
        yield Databases(sqlite_url(tmp_path / "live.db"), sqlite_url(tmp_path / "fresh.db"))
        return
    async with fresh_postgres_database() as source, fresh_postgres_database() as target:
        yield Databases(source, target)


def without_checkpoints(database_url: str) -> Engines:
    """The application's engines; on SQLite with automatic checkpoints off, so what the writer
    commits stays in the -wal file: the backup must read it from there, as a copy of the main
    file alone would miss it (the worst case, which a busy server meets between checkpoints)."""
    engines = create_engines(database_url)
    if engines.write.dialect.name == "sqlite":
        for engine in (engines.write, engines.read):
            event.listen(engine.sync_engine, "connect", _no_autocheckpoint)
    return engines


def _no_autocheckpoint(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")


@dataclass
class Ledger:
    """What the writer has committed, in order: each id is recorded once its commit returned."""

    books: list[UUID] = field(default_factory=list)
    loans: list[UUID] = field(default_factory=list)
    returned: list[UUID] = field(default_factory=list)

    def counts(self) -> tuple[int, int, int]:
        return len(self.books), len(self.loans), len(self.returned)


async def keep_writing(
    app: Shelfmark, patron: UUID, ledger: Ledger, warm: asyncio.Event, stop: asyncio.Event
) -> None:
    """Adds a book, lends it, takes it back; again and again until told to stop. Sets `warm`
    after the first rounds."""
    n = 0
    while not stop.is_set():
        if n == WARM_UP_ROUNDS:
            warm.set()
        n += 1
        book = await app.execute(AddBook(title=f"Written {n}", author=WRITER_AUTHOR, actor="t"))
        ledger.books.append(book)
        loan = await app.execute(BorrowBook(book_id=book, patron_id=patron, actor="t"))
        ledger.loans.append(loan)
        await app.execute(ReturnLoan(loan, actor="t"))
        ledger.returned.append(loan)


@dataclass(frozen=True)
class Run:
    code: int
    output: str
    seconds: float


async def shelfmark_cli(database_url: str, directory: Path, *arguments: str) -> Run:
    """`python -m shelfmark ...` in a process of its own, as an operator runs it."""
    env = os.environ | {
        "DATABASE_URL": database_url,
        "SHELFMARK_VAR_DIR": str(directory),
        "SHELFMARK_LOG_LEVEL": "warning",
    }
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "shelfmark",
        *arguments,
        env=env,
        cwd=directory,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), CLI_TIMEOUT_SECONDS)
    assert process.returncode is not None
    return Run(process.returncode, output.decode(), time.monotonic() - started)


@dataclass(frozen=True)
class Stored:
    """The writer's rows in a database."""

    books: set[UUID]
    loans: set[UUID]
    returned: set[UUID]
    all_books: int


async def stored(database_url: str) -> Stored:
    engines = create_engines(database_url)
    try:
        async with engines.read.connect() as connection:
            written = set(
                await connection.scalars(select(books.c.id).where(books.c.author == WRITER_AUTHOR))
            )
            rows = (await connection.execute(select(loans.c.id, loans.c.returned_at))).all()
            total = len(list(await connection.scalars(select(books.c.id))))
    finally:
        await engines.dispose()
    return Stored(
        books=written,
        loans={row.id for row in rows},
        returned={row.id for row in rows if row.returned_at is not None},
        all_books=total,
    )


def _schema_state(connection: Connection) -> tuple[str | None, list[Any]]:
    context = MigrationContext.configure(
        connection,
        opts={
            "compare_type": True,
            "include_object": lambda _o, name, kind, _r, _c: is_ours(name, kind),
        },
    )
    return context.get_current_revision(), list(compare_metadata(context, metadata))


async def schema_state(database_url: str) -> tuple[str | None, list[Any]]:
    """The database's migration revision, and how its schema differs from the code's."""
    engines = create_engines(database_url)
    try:
        async with engines.write.connect() as connection:
            return await connection.run_sync(_schema_state)
    finally:
        await engines.dispose()


def sqlite_checks(database_url: str) -> tuple[str, list[Any]]:
    """`PRAGMA integrity_check` and `PRAGMA foreign_key_check` of a SQLite database."""
    path = make_url(database_url).database
    assert path is not None
    with contextlib.closing(sqlite3.connect(path)) as connection:
        integrity = connection.execute("PRAGMA integrity_check").fetchone()[0]
        foreign_keys = connection.execute("PRAGMA foreign_key_check").fetchall()
    return integrity, foreign_keys


def prefix_length(order: list[UUID], present: set[UUID]) -> int:
    """How long a prefix of `order` `present` is, failing if it is not one: a backup is one point
    in time, so of the writer's sequential commits it holds the first n and nothing after."""
    n = len(present)
    assert set(order[:n]) == present, "the backup is not one point in time"
    return n


async def test_a_backup_taken_while_writing_restores_whole_and_current(
    databases: Databases, tmp_path: Path
) -> None:
    settings = Settings(database_url=databases.source, var_dir=tmp_path)
    await seed_database(settings, books=2000, patrons=100, random_seed=5)
    app = bootstrap(
        settings, clock=MutableClock(), engines=without_checkpoints(settings.database_url)
    )
    ledger, warm, stop = Ledger(), asyncio.Event(), asyncio.Event()
    try:
        patron = await app.execute(RegisterPatron("Ada", "Lovelace", "ada@example.org"))
        writer = asyncio.create_task(keep_writing(app, patron, ledger, warm, stop))
        warmed = asyncio.create_task(warm.wait())
        await asyncio.wait({writer, warmed}, return_when=asyncio.FIRST_COMPLETED)
        warmed.cancel()
        assert not writer.done(), writer.exception()

        before = Ledger(list(ledger.books), list(ledger.loans), list(ledger.returned))
        backup_file = tmp_path / ("backup.db" if "sqlite" in databases.source else "backup.dump")
        backup = await shelfmark_cli(databases.source, tmp_path, "backup", str(backup_file))
        during = tuple(a - b for a, b in zip(ledger.counts(), before.counts(), strict=True))

        stop.set()
        await writer  # re-raises what the writer met, if anything
    finally:
        stop.set()
        await app.dispose()

    assert backup.code == 0, backup.output
    assert f"wrote {backup_file}" in backup.output
    assert during[0] > 0, "the application did not write while the backup ran"
    leftovers = await asyncio.to_thread(lambda: list(tmp_path.glob(".backup.*.tmp")))
    assert not leftovers, "the temporary file was left behind"

    restore = await shelfmark_cli(databases.target, tmp_path, "restore", str(backup_file))
    assert restore.code == 0, restore.output
    assert "database is at the newest migration" in restore.output

    restored = await stored(databases.target)
    assert restored.all_books == 2000 + len(restored.books)
    n_books = prefix_length(ledger.books, restored.books)
    n_loans = prefix_length(ledger.loans, restored.loans)
    n_returned = prefix_length(ledger.returned, restored.returned)
    assert n_books >= len(before.books)  # all committed before the backup began
    assert n_loans >= len(before.loans)
    assert n_returned >= len(before.returned)
    assert n_books - 1 <= n_loans <= n_books and n_loans - 1 <= n_returned <= n_loans

    head = ScriptDirectory.from_config(migrations.alembic_config()).get_current_head()
    assert await schema_state(databases.target) == (head, [])
    if "sqlite" in databases.target:
        assert sqlite_checks(databases.target) == ("ok", [])

    source_before = await stored(databases.source)
    refused = await shelfmark_cli(databases.source, tmp_path, "restore", str(backup_file))
    assert refused.code == 2, refused.output
    assert "is not empty" in refused.output and "--force" in refused.output
    assert await stored(databases.source) == source_before  # untouched

    forced = await shelfmark_cli(databases.source, tmp_path, "restore", "--force", str(backup_file))
    assert forced.code == 0, forced.output
    assert await stored(databases.source) == restored
    assert await schema_state(databases.source) == (head, [])

    # The figures, for `pytest -s`: each process's wall time (start-up included), then what the
    # CLI itself reported.
    print(
        f"\n{databases.source.split(':')[0]}: {during[0]} books written while the backup ran; "
        f"backup {backup.seconds:.2f} s, restore {restore.seconds:.2f} s, "
        f"forced restore {forced.seconds:.2f} s\n{backup.output}{restore.output}"
    )


def test_the_password_goes_to_the_tools_environment_not_their_arguments() -> None:
    url = make_url("postgresql+asyncpg://lib:pa ss'word@db.example:6543/shelf mark?ssl=require")
    conninfo = libpq_conninfo(url)
    assert "pa ss" not in conninfo
    assert conninfo == (
        "dbname='shelf mark' host='db.example' port='6543' user='lib' sslmode='require' "
        "application_name='shelfmark-backup'"
    )
    assert libpq_environment(url)["PGPASSWORD"] == "pa ss'word"
