"""Keeps the book index current: the `search` consumer refreshes a book's entry whenever an
event says something about it changed."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from shelfmark.search.application.ports import SearchUnitOfWork
from shelfmark.seedwork.clock import Clock
from shelfmark.seedwork.messaging import Envelope

#: Events whose aggregate is the book itself.
BOOK_EVENTS = frozenset({"BookAdded", "CopyAdded", "CopyWithdrawn"})
#: Events that carry the book in their payload (`book_id`).
CIRCULATION_EVENTS = frozenset(
    {
        "BookBorrowed",
        "BookReturned",
        "HoldPlaced",
        "HoldReadyForPickup",
        "HoldFulfilled",
        "HoldCancelled",
        "HoldExpired",
    }
)


class BookIndexProjection:
    """The entry is rebuilt from the current state, not patched by the event, so a duplicate
    or late delivery cannot make it wrong; the inbox still keeps each event applied once."""

    name = "search"
    event_types = BOOK_EVENTS | CIRCULATION_EVENTS

    def __init__(
        self,
        uow: Callable[[], SearchUnitOfWork],
        clock: Clock,
        on_applied: Callable[[float], None] = lambda lag: None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._on_applied = on_applied

    async def handle(self, envelope: Envelope) -> None:
        """Two refreshes of one book at once (two consumers in flight) take turns on it (see
        the index's `refresh`); the later one writes the entry from the newer state."""
        async with self._uow() as uow:
            now = self._clock.now()
            if not await uow.inbox.first_delivery(self.name, envelope.event_id, now):
                return
            await uow.index.refresh([book_of(envelope)])
            await uow.commit()
        self._on_applied((now - envelope.occurred_at).total_seconds())


def book_of(envelope: Envelope) -> UUID:
    if envelope.event_type in BOOK_EVENTS:
        return envelope.aggregate_id
    return UUID(envelope.payload["book_id"])
