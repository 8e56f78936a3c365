"""Builds the application from settings; every entrypoint (HTTP, CLI, workers) goes through here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from shelfmark.access.application.handlers import Principal, authenticate, principal_of
from shelfmark.access.application.ports import PasswordHasher
from shelfmark.access.infrastructure.repository import SqlAlchemyAccessUnitOfWork
from shelfmark.access.infrastructure.tokens import TokenService
from shelfmark.bootstrap.cache import CacheInvalidation, response_cache
from shelfmark.bootstrap.commands import command_handlers
from shelfmark.bootstrap.events import EventPipeline, breaker_config, event_pipeline
from shelfmark.bootstrap.live_settings import LiveSettings
from shelfmark.bootstrap.metrics import Metrics
from shelfmark.bootstrap.security import RateLimits, password_hasher, rate_limits, token_service
from shelfmark.catalog.application.ports import BookReader
from shelfmark.catalog.infrastructure.readers import SqlBookReader
from shelfmark.config import Settings
from shelfmark.lending.application.jobs import DailyReport, run_daily_jobs
from shelfmark.lending.application.ports import LoanReader
from shelfmark.lending.domain.policies import LendingPolicy
from shelfmark.lending.infrastructure.policy_source import load_policy
from shelfmark.lending.infrastructure.readers import SqlLoanReader
from shelfmark.lending.infrastructure.unit_of_work import SqlAlchemyLendingUnitOfWork
from shelfmark.patrons.application.ports import PatronReader
from shelfmark.patrons.infrastructure.readers import SqlPatronReader
from shelfmark.search.application.ports import BookSearch
from shelfmark.search.infrastructure.index import SqlSearchUnitOfWork
from shelfmark.search.infrastructure.postgres import PostgresBookSearch
from shelfmark.search.infrastructure.sqlite import SqliteBookSearch
from shelfmark.seedwork.application import with_retries
from shelfmark.seedwork.clock import Clock, SystemClock
from shelfmark.seedwork.infrastructure.breaker import BreakerRegistry
from shelfmark.seedwork.infrastructure.cache import ResponseCache
from shelfmark.seedwork.infrastructure.database import Engines, create_engines
from shelfmark.seedwork.infrastructure.idempotency import IdempotencyStore
from shelfmark.seedwork.infrastructure.job_runs import SqlJobRuns
from shelfmark.seedwork.messaging import EventConsumer

Handler = Callable[[Any], Awaitable[Any]]
log = structlog.get_logger("shelfmark.breakers")


def log_transition(name: str, old: str, new: str) -> None:
    """Every breaker change is worth a line: an open breaker means a dependency is down."""
    level = log.warning if new == "open" else log.info
    level("circuit breaker changed state", breaker=name, old=old, new=new)


@dataclass(frozen=True)
class Readers:
    books: BookReader
    patrons: PatronReader
    loans: LoanReader
    search: BookSearch


@dataclass
class Shelfmark:
    """Everything one process needs, built once and disposed once."""

    settings: Settings
    engines: Engines
    clock: Clock
    policy: LendingPolicy
    readers: Readers
    idempotency: IdempotencyStore
    job_runs: SqlJobRuns
    tokens: TokenService
    hasher: PasswordHasher
    rate_limits: RateLimits
    breakers: BreakerRegistry
    metrics: Metrics
    #: Serialised responses of the hot reads (see bootstrap/cache.py).
    cache: ResponseCache
    handlers: dict[type, Handler] = field(default_factory=dict)
    events: EventPipeline = field(init=False)
    #: The etcd watch of the live settings (None without ETCD_ENDPOINTS).
    live: LiveSettings | None = field(default=None, init=False)

    async def execute(self, command: object) -> Any:
        """Runs a command's handler in a fresh unit of work, again if a concurrent writer won;
        then wakes this process's outbox relay for the events it committed."""
        handler = self.handlers[type(command)]
        result = await with_retries(lambda: handler(command))
        self.events.wake.set()
        return result

    async def authenticate(self, username: str, password: str) -> Principal | None:
        uow = SqlAlchemyAccessUnitOfWork(self.engines.write)
        return await authenticate(username, password, uow, self.hasher)

    async def principal(self, account_id: UUID) -> Principal | None:
        """The account behind a refresh token, if it still exists and is enabled."""
        return await principal_of(account_id, SqlAlchemyAccessUnitOfWork(self.engines.write))

    async def run_daily_jobs(self) -> DailyReport:
        """Registers overdue loans, ages lost ones, sends due-soon notices, expires holds."""
        engine, forget = self.engines.write, CacheInvalidation(self.cache).after_commit
        report = await run_daily_jobs(
            lambda: SqlAlchemyLendingUnitOfWork(engine, after_commit=forget),
            self.clock.now(),
            self.policy,
        )
        self.events.wake.set()
        return report

    async def rebuild_search_index(self, *, only_if_behind: bool = False) -> int | None:
        """Rebuilds the book index from the tables; with `only_if_behind`, only when it is
        empty while books exist. Returns the entries written, or None when nothing was done."""
        async with SqlSearchUnitOfWork(self.engines.write, self.clock) as uow:
            if only_if_behind and not await uow.index.is_behind():
                return None
            entries = await uow.index.rebuild()
            await uow.commit()
        return entries

    async def dispose(self) -> None:
        await self.events.close()
        await self.cache.aclose()
        await self.engines.dispose()


def book_search(engine: AsyncEngine) -> BookSearch:
    """Each database ranks with its own full-text search."""
    if engine.dialect.name == "postgresql":
        return PostgresBookSearch(engine)
    return SqliteBookSearch(engine)


def bootstrap(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    policy: LendingPolicy | None = None,
    engines: Engines | None = None,
    consumers: Sequence[EventConsumer] = (),
    cache: ResponseCache | None = None,
) -> Shelfmark:
    """Wires the application; any part can be overridden (tests pass a fixed clock, say).
    `consumers` run beside the built-in ones (a test's counting consumer)."""
    settings = settings or Settings()
    engines = engines or create_engines(
        settings.database_url,
        read_url=settings.read_database_url,
        pool_size=settings.db_pool_size,
        echo=settings.sql_echo,
        pgbouncer=settings.db_pgbouncer,
        pre_ping=settings.db_pre_ping,
        connect_timeout=settings.db_connect_timeout_seconds,
        statement_timeout=settings.db_statement_timeout_seconds,
    )
    clock = clock or SystemClock()
    breakers = BreakerRegistry(on_transition=log_transition)
    app = Shelfmark(
        settings=settings,
        engines=engines,
        clock=clock,
        policy=policy or load_policy(settings.policy_file),
        readers=Readers(
            books=SqlBookReader(engines.read),
            patrons=SqlPatronReader(engines.read),
            loans=SqlLoanReader(engines.read),
            search=book_search(engines.read),
        ),
        idempotency=IdempotencyStore(engines.write, ttl_hours=settings.idempotency_ttl_hours),
        job_runs=SqlJobRuns(engines.write),
        tokens=token_service(settings, clock),
        hasher=password_hasher(),
        rate_limits=rate_limits(settings),
        breakers=breakers,
        metrics=Metrics(breakers),
        cache=cache or response_cache(settings, clock, breakers, breaker_config(settings)),
    )
    app.handlers = command_handlers(app)
    app.events = event_pipeline(app, app.breakers, consumers)
    if settings.etcd_endpoints:
        app.live = LiveSettings(app)
        app.live.load_now()
    return app
