"""The `shelfmark` command: serve, migrate, seed. Every command goes through the bootstrap."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
import uvicorn
from pydantic import ValidationError

from shelfmark.bootstrap import bootstrap, migrations
from shelfmark.bootstrap.logging import configure_logging
from shelfmark.config import Settings
from shelfmark.lending.infrastructure.policy_source import PolicyFileError, load_policy

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
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        typer.echo(f"shelfmark: invalid settings: {problems}", err=True)
        raise typer.Exit(2) from None
    except PolicyFileError as error:
        typer.echo(f"shelfmark: {error}", err=True)
        raise typer.Exit(2) from None
    configure_logging(settings.log_level, settings.log_json)
    return settings


async def _migrate(settings: Settings) -> None:
    shelfmark = bootstrap(settings)
    try:
        await migrations.upgrade(shelfmark.engines.write)
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
    asyncio.run(_migrate(settings))
    from shelfmark.entrypoints.http.app import create_app

    uvicorn.run(
        create_app(settings),
        host=host or settings.host,
        port=port or settings.port,
        log_level="warning",
        access_log=False,
    )


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
    asyncio.run(seed_database(settings, books=books, patrons=patrons, random_seed=random_seed))
