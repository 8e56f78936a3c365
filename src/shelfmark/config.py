"""Settings, from the environment (and later a config file and etcd), validated at start."""

from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

EMBEDDED_DATABASE_URL = "sqlite+aiosqlite:///./var/shelfmark.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHELFMARK_", extra="ignore")

    database_url: str = Field(
        EMBEDDED_DATABASE_URL,
        validation_alias=AliasChoices("DATABASE_URL", "SHELFMARK_DATABASE_URL"),
        description="SQLAlchemy URL of the write model; sqlite+aiosqlite or postgresql+asyncpg.",
    )
    db_pool_size: int = Field(10, ge=1, le=200, description="Connections per process (PostgreSQL).")
    policy_file: Path | None = Field(
        None, description="TOML file whose keys override the built-in public_library policy."
    )
    host: str = Field("127.0.0.1", description="Address `shelfmark serve` listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port `shelfmark serve` listens on.")
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="debug, info, warning or error."
    )
    log_json: bool = Field(False, description="JSON log lines instead of the console format.")
    daily_jobs_at: time = Field(
        time(2, 0), description="Library-local time after which the daily jobs run each day."
    )
    scheduler_enabled: bool = Field(
        True, description="Run the daily-jobs scheduler inside `shelfmark serve`."
    )
    scheduler_poll_seconds: float = Field(
        30.0, gt=0, description="How often the scheduler reads the clock to see if jobs are due."
    )
    idempotency_ttl_hours: int = Field(24, ge=1, description="How long an Idempotency-Key lives.")
    sql_echo: bool = Field(False, description="Log every SQL statement (debugging only).")
