"""Aggregates record domain events; they never publish them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar


@dataclass(frozen=True, kw_only=True)
class DomainEvent:
    """Something that happened. Past tense; carries who did it and when."""

    aggregate_id: uuid.UUID
    occurred_at: datetime
    actor: str
    event_id: uuid.UUID = field(default_factory=uuid.uuid4)

    #: Whether this kind of event is a staff action the audit log keeps (override or money).
    audited: ClassVar[bool] = False

    @property
    def name(self) -> str:
        return type(self).__name__

    @property
    def is_audited(self) -> bool:
        return self.audited


class AggregateRoot:
    """A consistency boundary with an optimistic version and a list of pending events.

    `version` is the version that was loaded from storage (0 for a new aggregate); the
    repository writes only when there are pending events and checks that the stored version
    is still the loaded one.
    """

    id: uuid.UUID
    version: int

    def __init__(self) -> None:
        self.version = 0
        self._pending: list[DomainEvent] = []

    def record(self, event: DomainEvent) -> None:
        self._pending.append(event)

    @property
    def pending_events(self) -> tuple[DomainEvent, ...]:
        return tuple(self._pending)

    def pull_events(self) -> list[DomainEvent]:
        events, self._pending = self._pending, []
        return events


class DomainError(Exception):
    """Base of every error the domain raises; the HTTP edge maps them by class."""

    code = "DOMAIN_ERROR"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidValue(DomainError):
    """A value failed its own validation; `field` names the input it came from."""

    code = "INVALID_VALUE"

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail)
        self.field = field


class NotFound(DomainError):
    code = "NOT_FOUND"


class Conflict(DomainError):
    """A business rule or state conflict that is not a list of reasons."""

    code = "CONFLICT"


@dataclass(frozen=True)
class Reason:
    code: str
    detail: str


class RulesViolated(DomainError):
    """One or more business rules failed; every failing reason is listed."""

    code = "RULES_VIOLATED"

    def __init__(self, reasons: list[Reason]) -> None:
        super().__init__("; ".join(r.detail for r in reasons))
        self.reasons = reasons
