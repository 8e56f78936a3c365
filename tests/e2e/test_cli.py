"""The `shelfmark` command refuses bad configuration with a clear message before it starts."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shelfmark.entrypoints.cli import app
from tests.support.databases import fresh_postgres_database


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}


def test_migrate_brings_a_fresh_database_up(env: dict[str, str]) -> None:
    result = CliRunner().invoke(app, ["migrate"], env=env)
    assert result.exit_code == 0, result.output
    assert "newest migration" in result.output


@pytest.mark.postgres
async def test_migrations_and_rebuilds_are_not_held_to_the_statement_timeout() -> None:
    """Requests and workers keep `db_statement_timeout_seconds`; a migration that rewrites a
    big table must not be cut by it (here a timeout no statement could meet)."""
    async with fresh_postgres_database() as url:
        env = {"DATABASE_URL": url, "SHELFMARK_DB_STATEMENT_TIMEOUT_SECONDS": "0.000001"}
        for command in (["migrate"], ["projections", "rebuild"]):
            result = await asyncio.to_thread(CliRunner().invoke, app, command, env=env)
            assert result.exit_code == 0, (command, result.output, result.exception)


def test_a_bad_policy_file_stops_the_service(env: dict[str, str], tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text("[categories.regular]\nmax_loans = -1\n")
    result = CliRunner().invoke(app, ["serve"], env=env | {"SHELFMARK_POLICY_FILE": str(policy)})
    assert result.exit_code == 2
    assert "invalid lending policy: categories.regular" in result.output


def test_a_bad_setting_stops_the_service(env: dict[str, str]) -> None:
    result = CliRunner().invoke(app, ["serve"], env=env | {"SHELFMARK_LOG_LEVEL": "loud"})
    assert result.exit_code == 2
    assert "log_level" in result.output


def test_staff_users_are_managed_from_the_cli(env: dict[str, str], tmp_path: Path) -> None:
    env = env | {"SHELFMARK_VAR_DIR": str(tmp_path)}
    runner = CliRunner()
    created = runner.invoke(
        app,
        ["users", "create", "Chief", "--role", "admin", "--password-stdin"],
        input="a long enough password\n",
        env=env,
    )
    assert created.exit_code == 0, created.output
    again = runner.invoke(
        app, ["users", "create", "chief", "--password-stdin"], input="another password\n", env=env
    )
    assert again.exit_code == 1 and "already has an account" in again.output
    short = runner.invoke(
        app, ["users", "reset-password", "chief", "--password-stdin"], input="short\n", env=env
    )
    assert short.exit_code == 1 and "8..128" in short.output
    assert runner.invoke(app, ["users", "disable", "chief"], env=env).exit_code == 0
    assert runner.invoke(app, ["users", "disable", "nobody"], env=env).exit_code == 1
