"""`shelfmark backup` and `shelfmark restore`: a consistent copy of the database of
DATABASE_URL, taken while the service keeps writing, and put back into an empty database.

Rules:
- SQLite: the backup is SQLite's online backup API, in one step, so it reads one snapshot (in WAL
  mode writers go on meanwhile); the file written is a single self-contained database (rollback
  journal, no -wal or -shm beside it). A restore runs the same API the other way round, into the
  database file itself, in one SQLite transaction: other connections see the old or the new
  contents, never a mix.
- PostgreSQL: the backup is `pg_dump --format=custom` (one repeatable-read snapshot); a restore is
  `pg_restore --no-owner --clean --if-exists --exit-on-error --single-transaction`, all or
  nothing. The connection comes from the SQLAlchemy URL as a libpq conninfo string; the password
  travels in the child's PGPASSWORD, never on a command line.
- A backup is written to a temporary file beside PATH and renamed over it only once complete and
  synced, so PATH is always either the old file or a whole new backup. The file is private (0600).
- A restore refuses a database that holds any table or view unless forced (nothing is changed
  then); the caller migrates afterwards, as the backup may be older than the code.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

Backend = Literal["sqlite", "postgresql"]

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"
SQLITE_BUSY_TIMEOUT_SECONDS = 30.0
APPLICATION_NAME = "shelfmark-backup"

# Relations a restore would clash with: tables (plain, partitioned, foreign), views and
# materialised views in any schema but PostgreSQL's own.
PG_USER_RELATIONS = text(
    "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('r', 'p', 'f', 'v', 'm') "
    "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
    "AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'"
)
SQLITE_USER_RELATIONS = (
    "SELECT count(*) FROM sqlite_master WHERE type IN ('table', 'view') "
    "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
)


class BackupError(Exception):
    """A backup or restore that failed on the way (a tool or the database said no): exit 1."""

    exit_code = 1


class BackupRefused(BackupError):
    """A backup or restore that was not started, as asked it would be wrong: exit 2."""

    exit_code = 2


@dataclass(frozen=True)
class Written:
    """A backup file and what it took."""

    path: Path
    size: int
    seconds: float

    def describe(self) -> str:
        return f"wrote {self.path} ({_size(self.size)}) in {self.seconds:.2f} s"


@dataclass(frozen=True)
class Restored:
    """A restore done: from which file, into which database, what it replaced, how long."""

    source: Path
    database: str
    replaced_relations: int
    seconds: float

    def describe(self) -> str:
        replaced = (
            f", replacing {self.replaced_relations} table(s) or view(s)"
            if self.replaced_relations
            else ""
        )
        return f"restored {self.source} into {self.database}{replaced} in {self.seconds:.2f} s"


async def backup(database_url: str, target: Path) -> Written:
    """Writes a consistent backup of the database of `database_url` to `target`, atomically."""
    started = time.monotonic()
    url = make_url(database_url)
    kind = backend(url)
    source = sqlite_path(url) if kind == "sqlite" else None
    if source is not None and not source.is_file():
        raise BackupRefused(f"there is no database at {source} to back up")
    with atomic_file(target) as temporary:
        if source is not None:
            await asyncio.to_thread(sqlite_copy, source, temporary, self_contained=True)
        else:
            await run_tool("pg_dump", ["--format=custom", f"--file={temporary}"], url)
    size = await asyncio.to_thread(os.path.getsize, target)
    return Written(target, size, time.monotonic() - started)


async def restore(database_url: str, source: Path, *, force: bool = False) -> Restored:
    """Restores the backup `source` into the database of `database_url`, which must be empty
    unless `force`. Does not migrate: the caller brings the schema up to date afterwards."""
    started = time.monotonic()
    url = make_url(database_url)
    kind = backend(url)
    check_backup_kind(source, kind)
    relations = await count_relations(url)
    if relations and not force:
        raise BackupRefused(
            f"{display(url)} is not empty ({relations} tables or views); restore into an empty "
            "database, or pass --force to replace what it holds"
        )
    if kind == "sqlite":
        target = sqlite_path(url)
        refuse_same_file(source, target)
        await asyncio.to_thread(sqlite_copy, source, target, self_contained=False)
    else:
        await run_tool(
            "pg_restore",
            [
                "--no-owner",
                "--clean",
                "--if-exists",
                "--exit-on-error",
                "--single-transaction",
                str(source),
            ],
            url,
        )
    return Restored(source, display(url), relations, time.monotonic() - started)


def backend(url: URL) -> Backend:
    """SQLite or PostgreSQL; any other URL is refused."""
    name = url.get_backend_name()
    if name == "sqlite":
        return "sqlite"
    if name == "postgresql":
        return "postgresql"
    raise BackupRefused(f"cannot back up or restore a {name} database ({display(url)})")


def sqlite_path(url: URL) -> Path:
    """The file of a SQLite URL, relative to the working directory as the engine takes it."""
    if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
        raise BackupRefused(f"{display(url)} does not name a SQLite database file")
    return Path(url.database)


def display(url: URL) -> str:
    """The URL for messages: never the password."""
    return url.render_as_string(hide_password=True)


def check_backup_kind(path: Path, kind: Backend) -> None:
    """A SQLite database goes into SQLite, a pg_dump custom archive into PostgreSQL."""
    try:
        with path.open("rb") as file:
            head = file.read(len(SQLITE_MAGIC))
    except OSError as error:
        raise BackupRefused(f"cannot read the backup {path}: {error.strerror}") from error
    expected = SQLITE_MAGIC if kind == "sqlite" else PG_DUMP_MAGIC
    if not head.startswith(expected):
        what = "SQLite database" if kind == "sqlite" else "pg_dump custom-format archive"
        raise BackupRefused(f"{path} is not a {what}, so it cannot be restored into {kind}")


def refuse_same_file(source: Path, target: Path) -> None:
    if target.exists() and source.resolve().samefile(target.resolve()):
        raise BackupRefused(f"{source} is the database itself")


async def count_relations(url: URL) -> int:
    """How many tables and views the database holds (a SQLite file not there yet holds none)."""
    if backend(url) == "sqlite":
        return await asyncio.to_thread(_sqlite_relations, sqlite_path(url))
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            return int(await connection.scalar(PG_USER_RELATIONS) or 0)
    except (SQLAlchemyError, OSError) as error:
        reason = getattr(error, "orig", None) or error
        raise BackupError(f"cannot read {display(url)}: {reason}") from error
    finally:
        await engine.dispose()


def _sqlite_relations(path: Path) -> int:
    if not path.exists():
        return 0
    try:
        with contextlib.closing(_sqlite_read_only(path)) as connection:
            return int(connection.execute(SQLITE_USER_RELATIONS).fetchone()[0])
    except sqlite3.Error as error:
        raise BackupError(f"cannot read {path}: {error}") from error


def sqlite_copy(source: Path, target: Path, *, self_contained: bool) -> None:
    """Copies the database `source` over `target` with the online backup API in one step (one
    read snapshot of `source`, one write transaction on `target`). `self_contained` leaves
    `target` in rollback-journal mode: one file, nothing beside it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with (
            contextlib.closing(_sqlite_read_only(source)) as reader,
            contextlib.closing(
                sqlite3.connect(target, timeout=SQLITE_BUSY_TIMEOUT_SECONDS)
            ) as writer,
        ):
            reader.backup(writer)
            if self_contained:
                writer.execute("PRAGMA journal_mode=DELETE")
    except sqlite3.Error as error:
        raise BackupError(f"SQLite could not copy {source} to {target}: {error}") from error


def _sqlite_read_only(path: Path) -> sqlite3.Connection:
    uri = f"{path.resolve().as_uri()}?mode=ro"
    return sqlite3.connect(uri, uri=True, timeout=SQLITE_BUSY_TIMEOUT_SECONDS)


@contextlib.contextmanager
def atomic_file(target: Path) -> Iterator[Path]:
    """Yields a private temporary file beside `target`; renames it over `target` once the block
    ends well (file and directory synced), deletes it otherwise."""
    if target.is_dir():
        raise BackupRefused(f"{target} is a directory; name the backup file")
    if not target.parent.is_dir():
        raise BackupRefused(f"the directory {target.parent} does not exist")
    handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        _fsync(temporary)
        temporary.replace(target)
        _fsync(target.parent)
    finally:
        temporary.unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def libpq_conninfo(url: URL) -> str:
    """The libpq connection string of a PostgreSQL URL, without the password."""
    query = {key: str(value) for key, value in url.query.items() if isinstance(value, str)}
    ssl = query.get("sslmode") or query.get("ssl")
    fields = {
        "dbname": url.database,
        "host": url.host or query.get("host"),
        "port": url.port or query.get("port"),
        "user": url.username,
        "sslmode": "require" if ssl in ("true", "1") else ssl,
        "application_name": APPLICATION_NAME,
    }
    return " ".join(f"{key}={_quote(str(value))}" for key, value in fields.items() if value)


def _quote(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


def libpq_environment(url: URL) -> dict[str, str]:
    """This process's environment, plus the URL's password as PGPASSWORD when it has one
    (without one, libpq falls back to PGPASSWORD, ~/.pgpass or the server's trust)."""
    environment = dict(os.environ)
    if url.password is not None:
        environment["PGPASSWORD"] = str(url.password)
    return environment


async def run_tool(program: str, arguments: list[str], url: URL) -> None:
    """Runs a PostgreSQL client tool against the URL's database; its stderr on failure."""
    executable = shutil.which(program)
    if executable is None:
        raise BackupError(
            f"{program} is not on PATH: install the PostgreSQL client tools "
            "(the server's major version or newer)"
        )
    process = await asyncio.create_subprocess_exec(
        executable,
        "--no-password",
        f"--dbname={libpq_conninfo(url)}",
        *arguments,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env=libpq_environment(url),
    )
    _, stderr = await process.communicate()
    if process.returncode != 0:
        message = stderr.decode(errors="replace").strip()
        raise BackupError(f"{program} failed (exit {process.returncode}): {message}")


def _size(size: int) -> str:
    return f"{size / 1_048_576:.1f} MiB, {size:,} bytes"
