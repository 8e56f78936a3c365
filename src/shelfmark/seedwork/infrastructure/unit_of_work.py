"""A unit of work over one database transaction, with explicit (non-instrumented) repositories."""

from __future__ import annotations

import abc
import functools
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Generic, Self, TypeVar
from uuid import UUID

from sqlalchemy import Column, Insert, Table, Update, bindparam
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shelfmark.seedwork.application import ConcurrencyConflict
from shelfmark.seedwork.domain import AggregateRoot, DomainEvent
from shelfmark.seedwork.infrastructure.audit import append_to_audit_log
from shelfmark.seedwork.infrastructure.inbox import SqlInbox
from shelfmark.seedwork.infrastructure.outbox import append_to_outbox
from shelfmark.seedwork.infrastructure.transaction import SqlTransaction

A = TypeVar("A", bound=AggregateRoot)
AfterCommit = Callable[[Sequence[DomainEvent]], Awaitable[None]]

logger = logging.getLogger(__name__)


class SqlRepository(abc.ABC, Generic[A]):
    """Tracks the aggregates it handed out or was given; writes those with pending events.

    Writes happen only at commit: an update names the loaded version and fails as a
    ConcurrencyConflict when another transaction moved it on.
    """

    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection
        self._seen: dict[UUID, A] = {}
        self._new: set[UUID] = set()

    def _track(self, aggregate: A, *, new: bool = False) -> A:
        self._seen[aggregate.id] = aggregate
        if new:
            self._new.add(aggregate.id)
        return aggregate

    async def flush(self) -> list[DomainEvent]:
        events: list[DomainEvent] = []
        for aggregate in self._seen.values():
            if not aggregate.pending_events:
                continue
            if aggregate.id in self._new:
                await self._insert(aggregate)
            else:
                await self._update(aggregate)
            aggregate.version += 1
            events.extend(aggregate.pull_events())
        self._new.clear()
        return events

    @abc.abstractmethod
    async def _insert(self, aggregate: A) -> None: ...

    @abc.abstractmethod
    async def _update(self, aggregate: A) -> None: ...

    async def _insert_row(self, table: Table, **values: Any) -> None:
        """The values go with the statement as parameters, not into it (`.values()`), as with
        `_versioned_update`."""
        _known_columns(table, values)
        await self.connection.execute(_insert(table), values)

    async def _update_versioned(
        self, table: Table, key: Column[Any], aggregate: A, values: dict[str, Any]
    ) -> None:
        """Updates the aggregate's row only if it still has the loaded version, moving it on;
        otherwise a concurrent writer won and the command is rerun."""
        _known_columns(table, values)
        result = await self.connection.execute(
            _versioned_update(table, key.key),
            {
                **values,
                "version": aggregate.version + 1,
                KEY: aggregate.id,
                LOADED_VERSION: aggregate.version,
            },
        )
        if result.rowcount != 1:
            raise ConcurrencyConflict(
                f"{type(aggregate).__name__} {aggregate.id} changed meanwhile"
            )


KEY, LOADED_VERSION = "key_", "loaded_version_"


def _known_columns(table: Table, values: Mapping[str, Any]) -> None:
    """A statement given its values as parameters writes the columns they name and ignores any
    other name, where `.values()` refuses it."""
    unknown = values.keys() - table.c.keys()
    if unknown:
        raise ValueError(f"{table.name} has no column {', '.join(sorted(unknown))}")


@functools.cache
def _insert(table: Table) -> Insert:
    """Built once per table, as the update below (a new statement needs a new cache key)."""
    return table.insert()


@functools.cache
def _versioned_update(table: Table, key: str) -> Update:
    """Built once per table: the columns it sets are the parameters given with it. An update of
    a dozen columns built with its values (`.values()`) cost 320 µs here, built once and given
    them as parameters 52 µs: most of the difference is building it and its cache key."""
    return table.update().where(
        table.c[key] == bindparam(KEY), table.c.version == bindparam(LOADED_VERSION)
    )


class SqlAlchemyUnitOfWork(SqlTransaction, abc.ABC):
    """Opens a transaction on enter, rolls back on exit unless `commit()` ran.

    `commit()` writes the tracked aggregates and appends their events to the outbox in the
    transaction (where a consumer recorded its event in the inbox first), and commits. A
    unique-constraint or version clash becomes ConcurrencyConflict, which the command runner
    retries.

    `after_commit`, if given, hears the committed events once the transaction is durable (a
    read cache forgets what they changed); its failure is logged, never the command's.
    """

    inbox: SqlInbox

    def __init__(self, engine: AsyncEngine, *, after_commit: AfterCommit | None = None) -> None:
        super().__init__(engine)
        self._after_commit = after_commit

    @abc.abstractmethod
    def _repositories(self) -> Sequence[SqlRepository[Any]]: ...

    @abc.abstractmethod
    def _open(self, connection: AsyncConnection) -> None:
        """Create this unit of work's repositories on the connection."""

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self.inbox = SqlInbox(self.connection)
        self._open(self.connection)
        return self

    async def commit(self) -> None:
        try:
            events: list[DomainEvent] = []
            for repository in self._repositories():
                events.extend(await repository.flush())
            await append_to_outbox(self.connection, events)
            await append_to_audit_log(self.connection, events)
            await self.connection.commit()
        except IntegrityError as error:
            if is_unique_violation(error):
                raise ConcurrencyConflict(str(error.orig)) from error
            raise
        if self._after_commit is not None and events:
            try:
                await self._after_commit(events)
            except Exception:
                logger.exception("after-commit hook failed; the commit stands")


UNIQUE_SQLSTATE = "23505"
UNIQUE_SQLITE_ERRORS = {"SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"}


def is_unique_violation(error: IntegrityError) -> bool:
    """A unique key clash means a concurrent writer got there first, which a retry resolves;
    any other integrity error (a foreign key, a NOT NULL) is a bug and must surface as one."""
    return (
        getattr(error.orig, "sqlstate", None) == UNIQUE_SQLSTATE
        or getattr(error.orig, "sqlite_errorname", None) in UNIQUE_SQLITE_ERRORS
    )
