"""Settings, from the environment (and later a config file and etcd), validated at start."""

from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
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
    var_dir: Path = Field(
        Path("var"), description="Where generated files go (the token signing key)."
    )
    jwt_secret: SecretStr | None = Field(
        None,
        description="Key that signs tokens (32+ characters). Unset: one is generated once "
        "into var/jwt.key (embedded mode); scaled mode must set it, the same for every process.",
    )
    access_token_minutes: int = Field(15, ge=1, le=1440, description="Access token lifetime.")
    refresh_token_hours: int = Field(24, ge=1, le=720, description="Refresh token lifetime.")
    rate_limit_storage: str = Field(
        "async+memory://",
        description="Where rate-limit counters live: async+memory:// (one process) or "
        "async+redis://host:6379 (shared by every API process).",
    )
    login_limit_per_account: str = Field(
        "10/minute", description="Failed logins allowed per account (then 429 until the window)."
    )
    login_limit_per_client: str = Field(
        "30/minute", description="Login attempts allowed per client address."
    )
    request_limit_per_client: str = Field(
        "6000/minute", description="Requests allowed per client address, all routes together."
    )
    cors_origins: list[str] = Field(
        default_factory=list, description="Origins browsers may call the API from (CORS)."
    )
    max_body_bytes: int = Field(
        1_048_576, ge=1024, description="Largest request body accepted (else 413)."
    )
    idempotency_ttl_hours: int = Field(24, ge=1, description="How long an Idempotency-Key lives.")
    sql_echo: bool = Field(False, description="Log every SQL statement (debugging only).")
