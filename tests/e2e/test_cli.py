"""The `shelfmark` command refuses bad configuration with a clear message before it starts."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from shelfmark.entrypoints.cli import app


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"}


def test_migrate_brings_a_fresh_database_up(env: dict[str, str]) -> None:
    result = CliRunner().invoke(app, ["migrate"], env=env)
    assert result.exit_code == 0, result.output
    assert "newest migration" in result.output


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
