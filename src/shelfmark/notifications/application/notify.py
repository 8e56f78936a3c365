"""Turns the events a patron hears about into queued e-mails, once per event."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, tzinfo
from typing import Any
from uuid import UUID

from shelfmark.notifications.application.ports import (
    BookTitles,
    NotificationsUnitOfWork,
    PatronContacts,
    Templates,
)
from shelfmark.notifications.domain.model import Notification
from shelfmark.seedwork.clock import Clock
from shelfmark.seedwork.messaging import Envelope

KIND_OF_EVENT = {
    "BookBorrowed": "loan_receipt",
    "BookReturned": "return_receipt",
    "LoanFallingDue": "due_soon",
    "LoanBecameOverdue": "overdue",
    "HoldReadyForPickup": "hold_ready",
}


class PatronNotifier:
    """The `notifications` consumer. A patron or book that cannot be found (nothing deletes
    them today) leaves the event applied with no message rather than failing it forever."""

    name = "notifications"
    event_types = frozenset(KIND_OF_EVENT)

    def __init__(
        self,
        uow: Callable[[], NotificationsUnitOfWork],
        contacts: PatronContacts,
        books: BookTitles,
        templates: Templates,
        clock: Clock,
        *,
        library_name: str,
        timezone: tzinfo,
    ) -> None:
        self._uow = uow
        self._contacts = contacts
        self._books = books
        self._templates = templates
        self._clock = clock
        self._library_name = library_name
        self._timezone = timezone

    async def handle(self, envelope: Envelope) -> None:
        # Composed before the transaction opens: the patron's and the book's details come
        # through other connections, and one message holding a connection while it waits for
        # another could starve the pool when many are in flight.
        notification = await self._compose(envelope)
        async with self._uow() as uow:
            if not await uow.first_delivery(self.name, envelope.event_id, self._clock.now()):
                return
            if notification is not None:
                uow.add(notification)
            await uow.commit()

    async def _compose(self, envelope: Envelope) -> Notification | None:
        kind = KIND_OF_EVENT[envelope.event_type]
        payload = envelope.payload
        patron_id = UUID(payload["patron_id"])
        contact = await self._contacts.contact(patron_id)
        book = await self._books.title(UUID(payload["book_id"]))
        if contact is None or book is None:
            return None
        context = {
            "library_name": self._library_name,
            "patron_name": contact.first_name,
            "title": book.title,
            "author": book.author,
            **self._details(kind, payload),
        }
        rendered = self._templates.render(kind, context)
        return Notification.queue(
            event_id=envelope.event_id,
            kind=kind,
            patron_id=patron_id,
            recipient=contact.email,
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            now=self._clock.now(),
        )

    def _details(self, kind: str, payload: dict[str, Any]) -> dict[str, object]:
        if kind == "return_receipt":
            fine = str(payload["fine"])
            return {
                "returned": self._day(payload["returned_at"]),
                "fine": fine,
                "has_fine": fine not in ("0.00", "0"),
            }
        if kind == "hold_ready":
            return {"pickup_deadline": self._day(payload["pickup_deadline"])}
        return {"due": self._day(payload["due_at"])}

    def _day(self, instant: str) -> str:
        local = datetime.fromisoformat(instant).astimezone(self._timezone)
        return f"{local:%A} {local.day} {local:%B %Y}"
