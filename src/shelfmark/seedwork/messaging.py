"""Events on their way between contexts: the envelope, who publishes it and who consumes it.

Delivery is at least once everywhere (a relay that crashed between publishing and marking
publishes again), so every consumer must be idempotent: it records the event id in its inbox in
the same transaction as its effect.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID


@dataclass(frozen=True, slots=True)
class Envelope:
    """One outbox row as it travels: the event's fields as JSON values in `payload`."""

    event_id: UUID
    event_type: str
    aggregate_id: UUID
    occurred_at: datetime
    payload: dict[str, Any]
    position: int


class EventPublisher(Protocol):
    async def publish(self, envelopes: Sequence[Envelope]) -> int:
        """Hands the envelopes on in order; returns how many of the first ones are safely
        delivered (confirmed by the broker, or applied by every in-process consumer). Raises when
        the transport is unavailable; nothing is then counted as delivered."""
        ...


class EventConsumer(Protocol):
    """A group of handlers with one queue: it sees every event of the types it names."""

    @property
    def name(self) -> str: ...

    @property
    def event_types(self) -> frozenset[str]: ...

    async def handle(self, envelope: Envelope) -> None:
        """Applies the event once: a second delivery of the same event id has no effect."""
        ...


class DeadLetterFailed(Exception):
    """A consumer failed on an envelope every time it was tried; it goes to the dead letters."""
