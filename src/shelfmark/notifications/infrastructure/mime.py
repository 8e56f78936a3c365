"""The one way an `OutgoingEmail` becomes an RFC 5322 message (used by the file and SMTP
mailers): multipart/alternative with the plain text first and the HTML second, and the
From, To, Subject, Message-ID and Date headers."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate

from shelfmark.notifications.application.ports import MailRejected, OutgoingEmail


def build_message(email: OutgoingEmail, sender: str) -> EmailMessage:
    """A message that cannot even be built (a line break in a header, an unparsable address)
    will never be deliverable, so it is refused for good (`MailRejected`)."""
    message = EmailMessage()
    try:
        message["From"] = sender
        message["To"] = email.to
        message["Subject"] = email.subject
        message["Message-ID"] = email.message_id
        message["Date"] = formatdate(usegmt=True)
        message.set_content(email.text)
        message.add_alternative(email.html, subtype="html")
    except (ValueError, TypeError) as error:
        raise MailRejected(f"cannot build message {email.message_id}: {error}") from error
    return message
