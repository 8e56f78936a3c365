"""Settings, validated at start. Layers, lowest first: defaults, the config file
(SHELFMARK_CONFIG_FILE), etcd (ETCD_ENDPOINTS), the environment (see settings_sources.py)."""

from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from shelfmark.settings_sources import ConfigFileSource, EtcdSource

EMBEDDED_DATABASE_URL = "sqlite:///./var/shelfmark.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHELFMARK_", extra="ignore")

    database_url: str = Field(
        EMBEDDED_DATABASE_URL,
        validation_alias=AliasChoices("DATABASE_URL", "SHELFMARK_DATABASE_URL"),
        description="SQLAlchemy URL of the write model: sqlite:///<path> (the driver a sqlite URL "
        "names is not used: SQLite always runs on the embedded engine's own) or "
        "postgresql+asyncpg.",
    )
    read_database_url: str | None = Field(
        None,
        validation_alias=AliasChoices("READ_DATABASE_URL", "SHELFMARK_READ_DATABASE_URL"),
        description="SQLAlchemy URL of a streaming replica of database_url (postgresql+asyncpg) "
        "that answers reads; a caller's reads go to the primary until the replica has replayed "
        "their own writes. Unset: every read goes to database_url.",
    )
    db_pool_size: int = Field(10, ge=1, le=200, description="Connections per process (PostgreSQL).")
    db_connect_timeout_seconds: float = Field(
        5.0, gt=0, description="Longest a PostgreSQL connect, or a wait for a pooled one, may take."
    )
    db_statement_timeout_seconds: float = Field(
        30.0, gt=0, description="Longest one PostgreSQL statement may take (background work too)."
    )
    request_timeout_seconds: float = Field(
        10.0,
        gt=0,
        description="Deadline of one HTTP request, every dependency call included: past it the "
        "answer is 503 with Retry-After.",
    )
    db_pgbouncer: bool = Field(
        False,
        description="database_url is a PgBouncer in transaction pooling mode: asyncpg's "
        "prepared-statement caches are off, statement names unique, and pooled connections are "
        "not pinged before use.",
    )
    db_pre_ping: bool | None = Field(
        None,
        description="Ping each pooled connection before use (a BEGIN, a statement and a "
        "ROLLBACK per checkout), so one that PostgreSQL's restart broke is replaced unseen. "
        "Unset: on, unless db_pgbouncer. Workers, which retry what failed, can do without.",
    )
    config_file: Path | None = Field(
        None, description="TOML file of settings (names as keys), below etcd and the environment."
    )
    etcd_endpoints: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        validation_alias=AliasChoices("ETCD_ENDPOINTS", "SHELFMARK_ETCD_ENDPOINTS"),
        description="etcd client URLs, comma separated (http://127.0.0.1:2379); empty: no etcd.",
    )
    etcd_prefix: str = Field(
        "/shelfmark/default/",
        pattern=r"^/[A-Za-z0-9._/-]*/$",
        description="This deployment's etcd keys: <prefix>settings/<name>, <prefix>policy/<key>.",
    )
    policy_file: Path | None = Field(
        None, description="TOML file whose keys override the built-in public_library policy."
    )
    host: str = Field("127.0.0.1", description="Address `shelfmark serve` listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port `shelfmark serve` listens on.")
    drain_seconds: float = Field(
        0.0,
        ge=0,
        le=300,
        description="On SIGTERM, how long `shelfmark serve` keeps the connections it has (refusing"
        " new ones, answering with Connection: close) before it stops; behind nginx, longer than"
        " the upstream keepalive_timeout. 0: it stops at once.",
    )
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
    rate_limit_timeout_seconds: float = Field(
        0.25,
        gt=0,
        description="Longest one call to the rate-limit counters' Redis may take; a slower one "
        "lets the request through unlimited (logged).",
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

    # The event pipeline (outbox relay, consumers, e-mail)
    broker_url: SecretStr | None = Field(
        None,
        description="RabbitMQ URL (amqp://user:password@host:5672/); unset: the embedded "
        "in-process bus.",
    )
    broker_prefix: str = Field(
        "shelfmark",
        pattern=r"^[a-z0-9][a-z0-9._-]{0,49}$",
        description="Prefix of the exchanges and queues on the broker.",
    )
    broker_timeout_seconds: float = Field(
        5.0, gt=0, description="Longest a publish to the broker may take, retries included."
    )
    embedded_workers: bool = Field(
        True,
        description="Run the outbox relay, the consumers and the mail sender inside `shelfmark "
        "serve`; scaled mode turns this off and runs `shelfmark worker ...` processes.",
    )
    api_processes: int = Field(
        1,
        ge=1,
        le=64,
        description="API processes `shelfmark serve` starts on its port (one per core is the "
        "most that helps). With more than one, the relay, the mail sender and the scheduler run "
        "in one of them at a time (a lock file in var_dir), an in-process cache follows "
        "what the others changed through the outbox (peer_poll_seconds), and each process "
        "keeps its own /metrics and in-memory rate-limit counters.",
    )
    peer_poll_seconds: float = Field(
        0.05,
        gt=0,
        le=5,
        description="With api_processes > 1: how often each process reads the outbox for its "
        "peers' changes (its in-process cache) and the relay for their new events.",
    )
    worker_metrics_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="Port on which a `shelfmark worker` process serves its /metrics (unset: none).",
    )
    relay_batch_size: int = Field(200, ge=1, le=5000, description="Outbox rows per batch.")
    relay_poll_seconds: float = Field(
        2.0, gt=0, description="Longest the relay waits between looks without a wake-up."
    )
    outbox_retention_hours: int = Field(
        168, ge=1, description="How long published outbox rows are kept before pruning."
    )
    consumer_attempts: int = Field(
        3, ge=1, le=20, description="Tries of a consumer on one event before it is dead-lettered."
    )
    consumer_prefetch: int = Field(
        16, ge=1, le=1000, description="Unacknowledged messages per consumer (RabbitMQ)."
    )
    mail_adapter: Literal["file", "smtp", "sendgrid"] = Field(
        "file", description="file (.eml files in var/mail), smtp or sendgrid."
    )
    mail_from: str = Field("library@shelfmark.invalid", description="Sender address of e-mail.")
    library_name: str = Field("Shelfmark Library", description="The library's name in e-mail.")
    mail_dir: Path | None = Field(
        None, description="Where the file adapter writes .eml files (default: var_dir/mail)."
    )
    smtp_host: str = Field("127.0.0.1", description="SMTP server host.")
    smtp_port: int = Field(25, ge=1, le=65535, description="SMTP server port.")
    smtp_username: str | None = Field(None, description="SMTP login, if the server wants one.")
    smtp_password: SecretStr | None = Field(None, description="SMTP password.")
    smtp_starttls: bool = Field(False, description="Upgrade the SMTP connection with STARTTLS.")
    sendgrid_api_key: SecretStr | None = Field(None, description="SendGrid API key.")
    sendgrid_url: str = Field(
        "https://api.sendgrid.com", description="SendGrid API base URL (tests point it here)."
    )
    mail_timeout_seconds: float = Field(
        10.0, gt=0, description="Longest one e-mail send may take, retries included."
    )
    mail_max_attempts: int = Field(
        8, ge=1, le=50, description="Sends of one e-mail before it is marked failed."
    )
    mail_first_retry_seconds: float = Field(
        30.0, gt=0, description="Pause before an e-mail's first retry; each next one doubles."
    )
    mail_poll_seconds: float = Field(
        2.0, gt=0, description="How often the mail sender looks for queued e-mail."
    )
    breaker_window: Literal["count", "time"] = Field(
        "time",
        description="A breaker judges its last `breaker_window_size` calls (count) or the calls "
        "of its last `breaker_window_size` seconds (time).",
    )
    breaker_window_size: int = Field(
        10, ge=1, description="Size of each breaker's sliding window, in calls or seconds."
    )
    breaker_minimum_calls: int = Field(
        5, ge=1, description="Calls a breaker records before it may open."
    )
    breaker_failure_rate: float = Field(
        50.0, gt=0, le=100, description="Failure percentage at which a breaker opens."
    )
    breaker_slow_call_seconds: float = Field(
        5.0, gt=0, description="A call at least this slow counts as slow."
    )
    breaker_open_seconds: float = Field(
        30.0, gt=0, description="How long an open breaker rejects calls before trying again."
    )

    # The read cache (GET /books/{id}, GET /patrons/{id}, the first page of GET /books)
    cache_url: SecretStr | None = Field(
        None,
        description="Redis URL of the read cache shared by every process "
        "(redis://127.0.0.1:6379/0); unset: an in-process cache, right for embedded mode only "
        "(another process's writes then reach it through its TTL alone).",
    )
    cache_prefix: str = Field(
        "shelfmark",
        pattern=r"^[a-z0-9][a-z0-9._-]{0,49}$",
        description="Prefix of every read-cache key in Redis.",
    )
    cache_ttl_seconds: float = Field(
        30.0,
        gt=0,
        le=3600,
        description="Longest a cached response lives: the bound on staleness should an "
        "invalidation be lost (events delete the entries a change affects at once).",
    )
    cache_timeout_seconds: float = Field(
        0.25, gt=0, description="Longest one call to the cache's Redis may take."
    )
    cache_max_entries: int = Field(
        10_000, ge=1, description="Entries the in-process cache holds (least recently used go)."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Highest first: arguments, environment, secrets, etcd, the config file, defaults."""
        config_file = ConfigFileSource(settings_cls)
        etcd = EtcdSource(settings_cls, config_file)
        return (
            init_settings,
            env_settings,
            dotenv_settings,
            file_secret_settings,
            etcd,
            config_file,
        )

    @field_validator("etcd_endpoints", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [e.strip() for e in value.split(",") if e.strip()]
        return value

    @model_validator(mode="after")
    def _combinations_hold_together(self) -> Settings:
        if self.mail_adapter == "sendgrid" and self.sendgrid_api_key is None:
            raise ValueError("mail_adapter=sendgrid needs SHELFMARK_SENDGRID_API_KEY")
        if self.read_database_url is not None and not self.read_database_url.startswith(
            "postgresql"
        ):
            raise ValueError("read_database_url must be a PostgreSQL replica (postgresql+asyncpg)")
        if (
            self.api_processes > 1
            and self.cache_url is None
            and (not self.database_url.startswith("sqlite") or self.broker_url is not None)
        ):
            # The caches follow the outbox in the order one relay marked it, after the
            # in-process consumers applied it: SQLite's single relay, no broker.
            raise ValueError(
                "api_processes > 1 with the in-process cache needs SQLite and no broker_url; "
                "otherwise set cache_url (a Redis shared by the processes)"
            )
        return self
