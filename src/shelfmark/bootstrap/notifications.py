"""The notifications context's wiring: its view of patrons and books, its mailer, its consumer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol
from uuid import UUID
from zoneinfo import ZoneInfo

from shelfmark.catalog.application.ports import BookReader
from shelfmark.config import Settings
from shelfmark.notifications.application.notify import PatronNotifier
from shelfmark.notifications.application.ports import BookTitle, Contact, Mailer
from shelfmark.notifications.infrastructure.file_mailer import FileMailer
from shelfmark.notifications.infrastructure.repository import SqlNotificationsUnitOfWork
from shelfmark.notifications.infrastructure.sendgrid_mailer import SendGridMailer
from shelfmark.notifications.infrastructure.smtp_mailer import SmtpMailer
from shelfmark.notifications.infrastructure.templates import EmailTemplates
from shelfmark.patrons.application.ports import PatronReader

if TYPE_CHECKING:
    from shelfmark.bootstrap.container import Shelfmark


class ClosableMailer(Mailer, Protocol):
    async def aclose(self) -> None: ...


class ReaderContacts:
    """Patrons as the notifications context sees them: a first name and an address."""

    def __init__(self, patrons: PatronReader) -> None:
        self._patrons = patrons

    async def contact(self, patron_id: UUID) -> Contact | None:
        patron = await self._patrons.get(patron_id)
        return None if patron is None else Contact(patron.first_name, patron.email)


class ReaderTitles:
    def __init__(self, books: BookReader) -> None:
        self._books = books

    async def title(self, book_id: UUID) -> BookTitle | None:
        book = await self._books.heading(book_id)
        return None if book is None else BookTitle(book.title, book.author)


def patron_notifier(app: Shelfmark) -> PatronNotifier:
    engine = app.engines.write
    return PatronNotifier(
        lambda: SqlNotificationsUnitOfWork(engine),
        ReaderContacts(app.readers.patrons),
        ReaderTitles(app.readers.books),
        EmailTemplates(),
        app.clock,
        library_name=app.settings.library_name,
        timezone=ZoneInfo(app.policy.library.timezone),
    )


def mailer(settings: Settings) -> ClosableMailer:
    sender = settings.mail_from
    if settings.mail_adapter == "smtp":
        password = settings.smtp_password
        return SmtpMailer(
            settings.smtp_host,
            settings.smtp_port,
            sender,
            username=settings.smtp_username,
            password=password.get_secret_value() if password else None,
            starttls=settings.smtp_starttls,
            timeout=settings.mail_timeout_seconds,
        )
    if settings.mail_adapter == "sendgrid" and settings.sendgrid_api_key is not None:
        return SendGridMailer(
            settings.sendgrid_api_key.get_secret_value(),
            sender,
            base_url=settings.sendgrid_url,
            timeout=settings.mail_timeout_seconds,
        )
    return FileMailer(settings.mail_dir or settings.var_dir / "mail", sender)
