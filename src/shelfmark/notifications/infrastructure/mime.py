"""The one way an `OutgoingEmail` becomes an RFC 5322 message (used by the file and SMTP
mailers): multipart/alternative with the plain text first and the HTML second, and the
From, To, Subject, Message-ID and Date headers.

Built with `email.mime` (the compat32 policy), UTF-8 parts in quoted-printable. The default
policy parses every header it is given into a structured object and folds it again on output:
about 2 ms per message here, as much as everything else sending it costs. compat32 does
neither, so the two checks that parsing made are made here: no line break in a header, and an
address in From and To. An address's domain goes out in IDNA (ASCII); a mailbox name that is not
ASCII needs SMTPUTF8, which these mailers do not speak, so such a message is refused for good
rather than sent with a header no server can read.

The multipart boundary is chosen here, "=_" and a random hex token: "=_" can never appear in a
quoted-printable part, so no part can hold the boundary. Left to the generator, each message's
boundary was checked against the text with a regular expression compiled for that boundary
alone (320 against 245 µs of CPU to build and flatten a message here), and each one evicted
another pattern from the `re` module's shared cache.

`smtp_bytes` is what the SMTP mailer sends: CRLF line ends and no `>From ` mangling of body
lines (aiosmtplib's own flattening of a compat32 message mangles them).

A message is a `Message` on the compat32 policy."""

from __future__ import annotations

from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.policy import compat32
from email.utils import formataddr, formatdate, parseaddr
from uuid import uuid4

from shelfmark.notifications.application.ports import MailRejected, OutgoingEmail

UTF8_QP = Charset("utf-8")
UTF8_QP.body_encoding = QP
SMTP_LINES = compat32.clone(linesep="\r\n")


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
    message = MIMEMultipart("alternative", boundary=f"=_{uuid4().hex}")
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


def smtp_bytes(message: Message) -> bytes:
    """The message as SMTP carries it (`as_bytes` never mangles a body line)."""
    return message.as_bytes(policy=SMTP_LINES)


def envelope_address(header: str) -> str:
    """The bare address of a From or To this module wrote."""
    return parseaddr(header)[1]


def _address(value: str, message_id: str) -> str:
    name, address = parseaddr(value)
    mailbox, at, domain = address.rpartition("@")
    if not (mailbox and at and domain):
        raise MailRejected(f"cannot build message {message_id}: no address in {value!r}")
    if not mailbox.isascii():
        raise MailRejected(
            f"cannot build message {message_id}: {address!r} needs SMTPUTF8, not supported"
        )
    try:
        return formataddr((name, f"{mailbox}@{domain.encode('idna').decode()}"), charset="utf-8")
    except UnicodeError as error:
        raise MailRejected(f"cannot build message {message_id}: {address!r}: {error}") from error
