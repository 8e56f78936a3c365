"""The one way an `OutgoingEmail` becomes an RFC 5322 message (used by the file and SMTP
mailers): multipart/alternative with the plain text first and the HTML second, and the
From, To, Subject, Message-ID and Date headers.

Built with `email.mime` (the compat32 policy), UTF-8 parts in quoted-printable. The default
policy parses every header it is given into a structured object and folds it again on output:
about 2 ms per message here, as much as everything else sending it costs. compat32 does
neither, so the two checks that parsing made are made here: no line break in a header, and an
address in From and To."""

from __future__ import annotations

from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.utils import formataddr, formatdate, parseaddr

from shelfmark.notifications.application.ports import MailRejected, OutgoingEmail

UTF8_QP = Charset("utf-8")
UTF8_QP.body_encoding = QP


def build_message(email: OutgoingEmail, sender: str) -> Message:
    """A message that cannot even be built (a line break in a header, no address) will never
    be deliverable, so it is refused for good (`MailRejected`)."""
    fields = {
        "From": sender,
        "To": email.to,
        "Subject": email.subject,
        "Message-ID": email.message_id,
    }
    for name, value in fields.items():
        if "\r" in value or "\n" in value:
            raise MailRejected(f"cannot build message {email.message_id}: a line break in {name}")
    message = MIMEMultipart("alternative")
    message["From"] = _address(sender, email.message_id)
    message["To"] = _address(email.to, email.message_id)
    message["Subject"] = (
        email.subject
        if email.subject.isascii()
        else Header(email.subject, "utf-8", header_name="Subject").encode()
    )
    message["Message-ID"] = email.message_id
    message["Date"] = formatdate(usegmt=True)
    message.attach(_text("plain", email.text))
    message.attach(_text("html", email.html))
    return message


def _text(subtype: str, content: str) -> Message:
    part = MIMENonMultipart("text", subtype)
    part.set_payload(content, UTF8_QP)
    return part


def _address(value: str, message_id: str) -> str:
    name, address = parseaddr(value)
    if "@" not in address:
        raise MailRejected(f"cannot build message {message_id}: no address in {value!r}")
    return formataddr((name, address), charset="utf-8")
