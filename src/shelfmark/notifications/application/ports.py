"""What sending e-mail needs, named by role. Plain values and a Protocol: no framework here.

Rules every `Mailer` keeps:
- A message is identified by its `message_id`; sending the same message again is recognisable
  as a resend (same id), and the file adapter even overwrites the first copy.
- `MailRejected` means "never retry this message"; any other exception means "the provider is
  unavailable for now, retry later" and says nothing about the message itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from uuid import UUID

from shelfmark.notifications.domain.model import Notification
from shelfmark.seedwork.application import UnitOfWork


@dataclass(frozen=True, slots=True)
class OutgoingEmail:
    message_id: str
    """RFC 5322 Message-ID with its angle brackets, e.g. "<3f2a...@shelfmark>"; stable per
    notification so that a resend is recognisable."""
    to: str
    subject: str
    text: str
    html: str


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


class MailRejected(Exception):
    """The provider refused this message for good (a bad address, a 4xx from SendGrid other than
    429, an SMTP 5xx recipient/data refusal): retrying will not help, and it says nothing about
    the provider's health."""


class Mailer(Protocol):
    async def send(self, email: OutgoingEmail) -> None:
        """Delivers or raises: MailRejected for a permanent refusal; any other exception
        (OSError, TimeoutError, aiosmtplib/httpx errors, a 5xx or 429) means the provider is
        unavailable and the message may be retried."""
        ...


class MailerPaused(Exception):
    """The mailer is not being tried just now (its circuit breaker is open): nothing was sent,
    and the message should wait without counting an attempt."""


@dataclass(frozen=True, slots=True)
class Contact:
    first_name: str
    email: str


@dataclass(frozen=True, slots=True)
class BookTitle:
    title: str
    author: str


class PatronContacts(Protocol):
    async def contact(self, patron_id: UUID) -> Contact | None: ...


class BookTitles(Protocol):
    async def title(self, book_id: UUID) -> BookTitle | None: ...


class Templates(Protocol):
    def render(self, kind: str, context: Mapping[str, object]) -> RenderedEmail: ...


class NotificationsUnitOfWork(UnitOfWork, Protocol):
    """One transaction holding the queued notification and the inbox row of its event."""

    async def first_delivery(self, consumer: str, event_id: UUID, at: datetime) -> bool:
        """As `seedwork.application.Inbox.first_delivery`."""
        ...

    def add(self, notification: Notification) -> None: ...


class NotificationQueue(Protocol):
    async def claim_due(self, now: datetime, lease: timedelta, limit: int) -> list[Notification]:
        """Takes up to `limit` queued notifications due by `now`, counting an attempt on each
        and hiding it from other senders for `lease` (after a crash it is tried again)."""
        ...

    async def save(self, notification: Notification) -> None: ...

    async def release(self, notification: Notification, now: datetime) -> None:
        """Gives a claimed notification back, due at once, without counting the attempt."""
        ...
