"""Application building blocks: the unit-of-work port and the retry of conflicting commands."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self, TypeVar
from uuid import UUID

from shelfmark.seedwork.domain import Conflict

T = TypeVar("T")


class ConcurrencyConflict(Exception):
    """A concurrent writer won: a stale version or a unique constraint. Retrying may succeed."""


class ConcurrentUpdate(Conflict):
    code = "CONCURRENT_UPDATE"


class Inbox(Protocol):
    """Which consumer applied which event: recorded in the same transaction as the effect."""

    async def first_delivery(self, consumer: str, event_id: UUID, at: datetime) -> bool:
        """Records that `consumer` applies `event_id` at `at`, before it does; False when it
        already had, and then the consumer does nothing."""
        ...


class UnitOfWork(Protocol):
    """One transaction. Leaving the block without `commit()` rolls everything back."""

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...


async def with_retries(operation: Callable[[], Awaitable[T]], attempts: int = 5) -> T:
    """Runs a whole command again when a concurrent writer won; the rerun sees the winner's work.

    A rerun usually turns the conflict into a clear business answer (the last copy is gone:
    NO_COPY_AVAILABLE); when every attempt conflicts, the caller gets CONCURRENT_UPDATE (409).
    """
    for _ in range(attempts):
        try:
            return await operation()
        except ConcurrencyConflict:
            continue
    raise ConcurrentUpdate("the resource was changed by a concurrent request; try again")
