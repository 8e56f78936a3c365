"""The `shelfmark` command: serve, migrate, jobs, users, seed. All go through the bootstrap."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from limits.errors import ConfigurationError
from prometheus_client import start_http_server
from pydantic import ValidationError

from shelfmark.access.application.commands import CreateStaffUser, DisableUser, ResetPassword
from shelfmark.access.infrastructure.repository import staff_exists
from shelfmark.bootstrap import Shelfmark, bootstrap, migrations
from shelfmark.bootstrap.logging import configure_logging
from shelfmark.bootstrap.secrets import signing_key
from shelfmark.bootstrap.security import rate_limits
from shelfmark.config import Settings
from shelfmark.entrypoints import backup as backups
from shelfmark.entrypoints import gc_tuning
from shelfmark.entrypoints.workers.background import Background, Role
from shelfmark.entrypoints.workers.dead_letters import list_dead_letters, replay_dead_letters
from shelfmark.entrypoints.workers.supervisor import supervisor_background
from shelfmark.lending.infrastructure.policy_source import PolicyFileError, load_policy
from shelfmark.seedwork.domain import DomainError

T = TypeVar("T")

app = typer.Typer(
    help="Shelfmark, the library circulation backend.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _settings() -> Settings:
    """Settings with logging configured; a bad setting or policy file stops here, clearly."""
    try:
        settings = Settings()
        load_policy(settings.policy_file)
        signing_key(settings)
        rate_limits(settings)
    except ValidationError as error:
        problems = "; ".join(_problem(e["loc"], e["msg"]) for e in error.errors())
        typer.echo(f"shelfmark: invalid settings: {problems}", err=True)
        raise typer.Exit(2) from None
    except PolicyFileError as error:
        typer.echo(f"shelfmark: {error}", err=True)
        raise typer.Exit(2) from None
    except (ValueError, ConfigurationError) as error:
        typer.echo(f"shelfmark: invalid settings: {error}", err=True)
        raise typer.Exit(2) from None
    configure_logging(settings.log_level, settings.log_json)
    return settings


def _problem(location: tuple[int | str, ...], message: str) -> str:
    """`field: message`, or just the message for a rule over several settings."""
    message = message.removeprefix("Value error, ")
    return f"{'.'.join(map(str, location))}: {message}" if location else message


#: Statements of schema changes, seeding and rebuilds take what they take (a migration that
#: rewrites a table of a million books runs for minutes); requests and workers keep their limit.
UNHURRIED_STATEMENT_SECONDS = 24 * 3600.0


def unhurried(settings: Settings) -> Settings:
    return settings.model_copy(update={"db_statement_timeout_seconds": UNHURRIED_STATEMENT_SECONDS})


async def _migrate(settings: Settings) -> bool:
    """Migrates (and catches the search index up); says whether a staff user exists yet."""
    shelfmark = bootstrap(unhurried(settings))
    try:
        await migrations.upgrade(shelfmark.engines.write)
        await shelfmark.rebuild_search_index(only_if_behind=True)
        return await staff_exists(shelfmark.engines.write)
    finally:
        await shelfmark.dispose()


@app.command()
def migrate() -> None:
    """Bring the database schema to the newest migration."""
    settings = _settings()
    asyncio.run(_migrate(settings))
    typer.echo("database is at the newest migration")


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Listen address (default from settings).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (default from settings).")] = None,
) -> None:
    """Serve the HTTP API. The database is migrated first, so a fresh machine just works."""
    settings = _settings()
    if not asyncio.run(_migrate(settings)):
        typer.echo(
            "No staff user yet. Create the first admin (it asks for a password):\n"
            "    .venv/bin/shelfmark users create admin --role admin\n"
            "then log in at /docs (Authorize) or POST /auth/token."
        )
    host, port = host or settings.host, port or settings.port
    if settings.api_processes > 1:
        _serve_processes(settings, host, port)
        return
    from shelfmark.entrypoints.http.app import create_app
    from shelfmark.entrypoints.http.draining import draining_server

    app = create_app(settings)
    gc_tuning.freeze_start_up()
    draining_server(app, host, port, settings.drain_seconds).run()


def _serve_processes(settings: Settings, host: str, port: int) -> None:
    """uvicorn's supervisor: it binds the port, starts `api_processes` processes that share it
    (each builds `served_app`), restarts one that dies and replaces them all, one by one, on
    SIGHUP; beside it, on a thread, the background work (workers/supervisor.py). There is no
    balancer in front to drain for, so `drain_seconds` is not used. An API process that fails
    before it serves (a broken setting only the app reads, say) stops them all, and then the
    command fails too (uvicorn's own `run` would return as after a SIGTERM)."""
    import uvicorn
    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config(
        "shelfmark.entrypoints.http.app:served_app",
        factory=True,
        host=host,
        port=port,
        workers=settings.api_processes,
        log_level="warning",
        access_log=False,
    )
    supervisor = Multiprocess(config, sockets=[config.bind_socket()])
    background = supervisor_background(settings)
    try:
        supervisor.run()
    finally:
        if background is not None:
            background.stop()
    if any(process.exitcode == STARTUP_FAILURE for process in supervisor.processes):
        typer.echo("shelfmark: an API process failed to start (its error is above)", err=True)
        raise typer.Exit(STARTUP_FAILURE)


jobs = typer.Typer(help="The daily circulation jobs.", no_args_is_help=True)
app.add_typer(jobs, name="jobs")


async def _run_daily(settings: Settings) -> None:
    shelfmark = bootstrap(settings)
    try:
        report = await shelfmark.run_daily_jobs()
    finally:
        await shelfmark.dispose()
    for job, changed in report.changed.items():
        typer.echo(f"{job}: {changed}")


@jobs.command("run-daily")
def run_daily() -> None:
    """Run the daily jobs now: overdue, lost, due-soon notices, hold expiry. Safe to repeat."""
    asyncio.run(_run_daily(_settings()))


users = typer.Typer(help="Staff users (librarians and admins).", no_args_is_help=True)
app.add_typer(users, name="users")


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


async def _account_command(settings: Settings, command: object) -> None:
    await _migrate(settings)
    shelfmark = bootstrap(settings)
    try:
        await shelfmark.execute(command)
    finally:
        await shelfmark.dispose()


def _run_account_command(command: object, done: str) -> None:
    try:
        asyncio.run(_account_command(_settings(), command))
    except DomainError as error:
        typer.echo(f"shelfmark: {error.detail}", err=True)
        raise typer.Exit(1) from None
    typer.echo(done)


@users.command("create")
def create_user(
    username: str,
    role: Annotated[str, typer.Option(help="librarian or admin")] = "librarian",
    password_stdin: Annotated[bool, typer.Option(help="Read the password from stdin.")] = False,
) -> None:
    """Create a staff user (prompts for the password unless --password-stdin)."""
    command = CreateStaffUser(username, role, _password(password_stdin), actor="cli")
    _run_account_command(command, f"created {role} {username}")


@users.command("disable")
def disable_user(username: str) -> None:
    """Disable a user: they can no longer log in (their tokens run out within minutes)."""
    _run_account_command(DisableUser(username, actor="cli"), f"disabled {username}")


@users.command("reset-password")
def reset_password(
    username: str,
    password_stdin: Annotated[bool, typer.Option(help="Read the password from stdin.")] = False,
) -> None:
    """Set a new password for a user (and enable them again)."""
    command = ResetPassword(username, _password(password_stdin), actor="cli")
    _run_account_command(command, f"password of {username} reset")


@app.command()
def seed(
    books: Annotated[int, typer.Option(min=0, help="How many books to add.")] = 1000,
    patrons: Annotated[int, typer.Option(min=0, help="How many patrons to register.")] = 200,
    random_seed: Annotated[
        int, typer.Option(help="Seed of the generator (same seed, same data).")
    ] = 1,
) -> None:
    """Load realistic fake books (with copies) and patrons, in bulk."""
    from shelfmark.entrypoints.seeding import seed_database

    settings = _settings()
    asyncio.run(
        seed_database(unhurried(settings), books=books, patrons=patrons, random_seed=random_seed)
    )


worker = typer.Typer(
    help="Background workers, for scaled mode (embedded `serve` runs them itself).",
    no_args_is_help=True,
)
app.add_typer(worker, name="worker")


async def _run_roles(settings: Settings, roles: list[Role]) -> None:
    await _migrate(settings)
    shelfmark = bootstrap(settings)
    try:
        if settings.worker_metrics_port is not None:
            start_http_server(
                settings.worker_metrics_port, settings.host, shelfmark.metrics.registry
            )
        gc_tuning.freeze_start_up()
        await Background(shelfmark, roles).run_forever()
    finally:
        await shelfmark.dispose()


def _worker(roles: list[Role]) -> None:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run_roles(_settings(), roles))


@worker.command("relay")
def worker_relay() -> None:
    """Publish outbox events to the broker (several copies may run at once on PostgreSQL)."""
    _worker(["relay"])


@worker.command("consume")
def worker_consume() -> None:
    """Run the event consumers from RabbitMQ, and send queued e-mail."""
    if Settings().broker_url is None:
        typer.echo("shelfmark: consumers read from RabbitMQ: set SHELFMARK_BROKER_URL", err=True)
        raise typer.Exit(2)
    _worker(["consume", "mail"])


@worker.command("mail")
def worker_mail() -> None:
    """Send queued e-mail only (any number of copies may run)."""
    _worker(["mail"])


@worker.command("scheduler")
def worker_scheduler() -> None:
    """Run the daily jobs when they are due (any number of copies run each day once)."""
    _worker(["scheduler"])


dead_letters = typer.Typer(help="Events a consumer kept failing on.", no_args_is_help=True)
app.add_typer(dead_letters, name="dead-letters")

ConsumerOption = Annotated[
    str | None, typer.Option("--consumer", help="One consumer (default: all).")
]


async def _with_app(settings: Settings, work: Callable[[Shelfmark], Awaitable[T]]) -> T:
    shelfmark = bootstrap(settings)
    try:
        return await work(shelfmark)
    finally:
        await shelfmark.dispose()


@dead_letters.command("list")
def dead_letters_list(consumer: ConsumerOption = None) -> None:
    """Show each dead letter: consumer, event type, event id, why."""
    try:
        letters = asyncio.run(_with_app(_settings(), lambda s: list_dead_letters(s, consumer)))
    except ValueError as error:
        typer.echo(f"shelfmark: {error}", err=True)
        raise typer.Exit(2) from None
    for letter in letters:
        envelope = letter.envelope
        typer.echo(f"{letter.consumer}\t{envelope.event_type}\t{envelope.event_id}\t{letter.error}")
    typer.echo(f"{len(letters)} dead letter(s)")


@dead_letters.command("replay")
def dead_letters_replay(consumer: ConsumerOption = None) -> None:
    """Hand the dead letters back to their consumers (each applies an event at most once)."""
    try:
        replayed = asyncio.run(_with_app(_settings(), lambda s: replay_dead_letters(s, consumer)))
    except ValueError as error:
        typer.echo(f"shelfmark: {error}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"replayed {replayed} dead letter(s)")


projections = typer.Typer(help="Read models fed by events.", no_args_is_help=True)
app.add_typer(projections, name="projections")


@projections.command("rebuild")
def projections_rebuild() -> None:
    """Rebuild the book search index from the catalogue and lending tables."""
    entries = asyncio.run(_with_app(unhurried(_settings()), lambda s: s.rebuild_search_index()))
    typer.echo(f"search index rebuilt: {entries} books")


@app.command("backup")
def backup_command(
    path: Annotated[Path, typer.Argument(help="The backup file to write (replaced if it exists).")],
) -> None:
    """Write a consistent backup of the database to PATH, safe while the service writes."""
    settings = _settings()
    try:
        written = asyncio.run(backups.backup(settings.database_url, path))
    except backups.BackupError as error:
        typer.echo(f"shelfmark: {error}", err=True)
        raise typer.Exit(error.exit_code) from None
    typer.echo(written.describe())


@app.command("restore")
def restore_command(
    path: Annotated[Path, typer.Argument(help="A file `shelfmark backup` wrote.")],
    force: Annotated[
        bool, typer.Option("--force", help="Replace what a database that is not empty holds.")
    ] = False,
) -> None:
    """Restore a backup into the (empty) database, then migrate it to the newest revision."""
    settings = _settings()
    try:
        restored = asyncio.run(backups.restore(settings.database_url, path, force=force))
    except backups.BackupError as error:
        typer.echo(f"shelfmark: {error}", err=True)
        raise typer.Exit(error.exit_code) from None
    typer.echo(restored.describe())
    asyncio.run(_migrate(settings))
    typer.echo("database is at the newest migration")
