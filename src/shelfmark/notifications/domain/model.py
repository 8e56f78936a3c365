"""A notification: one e-mail to one patron about one event, queued until it is sent.

It is created once per (event, kind), so a redelivered event never queues a second message.
Sending is retried with growing pauses until `max_attempts`; a permanent refusal by the
provider ends it at once. A message already sent is never sent again.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID, uuid4

FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=1)


class Status(enum.StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"


@dataclass(kw_only=True)
class Notification:
    id: UUID
    event_id: UUID
    kind: str
    patron_id: UUID
    recipient: str
    subject: str
    text: str
    html: str
    created_at: datetime
    status: Status = Status.QUEUED
    attempts: int = 0
    next_attempt_at: datetime | None = None
    sent_at: datetime | None = None
    last_error: str | None = None

    @classmethod
    def queue(
        cls,
        *,
        event_id: UUID,
        kind: str,
        patron_id: UUID,
        recipient: str,
        subject: str,
        text: str,
        html: str,
        now: datetime,
    ) -> Notification:
        return cls(
            id=uuid4(),
            event_id=event_id,
            kind=kind,
            patron_id=patron_id,
            recipient=recipient,
            subject=subject,
            text=text,
            html=html,
            created_at=now,
            next_attempt_at=now,
        )

    @property
    def message_id(self) -> str:
        """Stable per notification, so a provider or reader can tell a resend."""
        return f"<{self.id}@shelfmark>"

    def sent(self, now: datetime) -> None:
        self.status, self.sent_at, self.next_attempt_at = Status.SENT, now, None
        self.last_error = None

    def rejected(self, error: str) -> None:
        """The provider refused it for good: retrying would not help."""
        self.status, self.next_attempt_at, self.last_error = Status.FAILED, None, error

    def attempt_failed(
        self, now: datetime, error: str, max_attempts: int, first_retry: timedelta = FIRST_RETRY
    ) -> None:
        """The provider was unavailable: try again later, doubling the pause, or give up."""
        self.last_error = error
        if self.attempts >= max_attempts:
            self.status, self.next_attempt_at = Status.FAILED, None
            return
        pause = min(first_retry * 2 ** max(self.attempts - 1, 0), LONGEST_RETRY)
        self.next_attempt_at = now + pause
