"""One suite, three mailers: files, SMTP (a local aiosmtpd) and SendGrid (a local fake of its
v3 API). Each test reads what arrived through the adapter's own inbox, never its internals."""

from __future__ import annotations

import email
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

import aiosmtplib
import httpx
import pytest

from shelfmark.notifications.application.ports import Mailer, MailRejected, OutgoingEmail
from shelfmark.notifications.infrastructure.file_mailer import FileMailer
from shelfmark.notifications.infrastructure.sendgrid_mailer import SendGridMailer
from shelfmark.notifications.infrastructure.smtp_mailer import SmtpMailer
from shelfmark.notifications.infrastructure.templates import EmailTemplates
from tests.support.mail_servers import FakeSendGrid, LocalSmtpServer

SENDER = "library@shelfmark.test"


@dataclass(frozen=True)
class Delivered:
    message_id: str
    sender: str
    to: str
    subject: str
    text: str
    html: str


def from_mime(message: EmailMessage) -> Delivered:
    """As a mail client shows it: SMTP's CRLF line ends read as plain newlines."""
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and html is not None
    return Delivered(
        str(message["Message-ID"]), str(message["From"]), str(message["To"]),
        str(message["Subject"]), lines(text.get_content()), lines(html.get_content()),
    )  # fmt: skip


def lines(content: str) -> str:
    return content.replace("\r\n", "\n")


def read_eml(path: Path) -> EmailMessage:
    return email.message_from_bytes(path.read_bytes(), _class=EmailMessage, policy=default)


@dataclass
class Harness:
    mailer: Mailer
    inbox: Callable[[], list[Delivered]]


@pytest.fixture(params=["file", "smtp", "sendgrid"])
async def mail(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Harness]:
    if request.param == "file":
        directory = tmp_path / "outbox"
        files = FileMailer(directory, SENDER)
        yield Harness(files, lambda: [from_mime(read_eml(p)) for p in directory.glob("*.eml")])
        await files.aclose()
    elif request.param == "smtp":
        server = LocalSmtpServer()
        await server.start()
        smtp = SmtpMailer("127.0.0.1", server.port, SENDER, timeout=5)
        yield Harness(smtp, lambda: [from_mime(m.message) for m in server.received])
        await smtp.aclose()
        await server.stop()
    else:
        fake = FakeSendGrid()
        await fake.start()
        sendgrid = SendGridMailer(fake.api_key, SENDER, base_url=fake.base_url, timeout=5)
        yield Harness(sendgrid, lambda: [from_json(body) for body in fake.accepted])
        await sendgrid.aclose()
        await fake.stop()


def from_json(body: dict[str, Any]) -> Delivered:
    """What SendGrid was asked to deliver; the parts in the order SendGrid requires."""
    assert [c["type"] for c in body["content"]] == ["text/plain", "text/html"]
    text, html = (c["value"] for c in body["content"])
    return Delivered(
        body["custom_args"]["message_id"], body["from"]["email"],
        body["personalizations"][0]["to"][0]["email"], body["subject"], text, html,
    )  # fmt: skip


def outgoing(number: int = 1, **changes: str) -> OutgoingEmail:
    values = {
        "message_id": f"<loan-receipt-{number}@shelfmark.test>",
        "to": "ada@example.org",
        "subject": "Your loan receipt: Dune",
        "text": "Dear Ada,\n\nDune is due back on Friday 12 December 2026.\n",
        "html": "<p>Dear Ada,</p>\n<p><strong>Dune</strong> is due back on Friday.</p>\n",
    } | changes
    return OutgoingEmail(**values)


def as_delivered(sent: OutgoingEmail) -> Delivered:
    return Delivered(sent.message_id, SENDER, sent.to, sent.subject, sent.text, sent.html)


async def test_a_sent_message_arrives_once_with_its_parts(mail: Harness) -> None:
    sent = outgoing()
    await mail.mailer.send(sent)
    assert mail.inbox() == [as_delivered(sent)]


async def test_a_resend_carries_the_same_message_id(mail: Harness) -> None:
    await mail.mailer.send(outgoing(1))
    await mail.mailer.send(outgoing(1))
    await mail.mailer.send(outgoing(2, to="grace@example.org"))
    by_id = {m.message_id: m.to for m in mail.inbox()}
    assert by_id == {"<loan-receipt-1@shelfmark.test>": "ada@example.org",
                     "<loan-receipt-2@shelfmark.test>": "grace@example.org"}  # fmt: skip


async def test_unicode_and_html_special_characters_survive(mail: Harness) -> None:
    title = "Ça & <Dune> — “Ünïcode” 読書 📚"
    sent = outgoing(
        subject=f"Your loan receipt: {title}",
        text=f"Dear Zoë,\n\n{title} is due back.\n.\n.a line that starts with a dot\n",
        html="<p>Dear Zoë,</p>\n<p>Ça &amp; &lt;Dune&gt; — “Ünïcode” 読書 📚</p>\n",
    )
    await mail.mailer.send(sent)
    [arrived] = mail.inbox()
    assert arrived == as_delivered(sent)
    assert "<Dune>" in arrived.text and "&lt;Dune&gt;" in arrived.html


async def test_a_line_that_starts_with_from_arrives_as_written(mail: Harness) -> None:
    """No mbox-style '>From ' mangling on the way (compat32 flattening mangles by default)."""
    sent = outgoing(text="Dear Ada,\nFrom Here to Eternity is due back on Friday.\n")
    await mail.mailer.send(sent)
    assert mail.inbox() == [as_delivered(sent)]


async def test_long_lines_arrive_unbroken(mail: Harness) -> None:
    paragraph = " ".join(["The quick brown fox jumps over the lazy dog."] * 60) + "\n"
    sent = outgoing(text=paragraph, html=f"<p>{paragraph.strip()}</p>\n")
    await mail.mailer.send(sent)
    assert mail.inbox() == [as_delivered(sent)]


async def test_a_rendered_template_arrives_intact(mail: Harness) -> None:
    context = {"library_name": "Riverside Library", "patron_name": "Ada",
               "title": "Dune <2nd ed.>", "pickup_deadline": "Saturday 7 March 2026"}  # fmt: skip
    rendered = EmailTemplates().render("hold_ready", context)
    sent = outgoing(subject=rendered.subject, text=rendered.text, html=rendered.html)
    await mail.mailer.send(sent)
    assert mail.inbox() == [as_delivered(sent)]


async def test_the_file_mailer_overwrites_a_resend_and_leaves_no_temporary_files(
    tmp_path: Path,
) -> None:
    mailer = FileMailer(tmp_path / "new" / "outbox", SENDER)
    await mailer.send(outgoing(1, subject="First try"))
    await mailer.send(outgoing(1, subject="Second try"))
    [only] = list((tmp_path / "new" / "outbox").iterdir())
    assert only.suffix == ".eml" and read_eml(only)["Subject"] == "Second try"


@pytest.fixture
async def smtp_server() -> AsyncIterator[LocalSmtpServer]:
    server = LocalSmtpServer()
    await server.start()
    yield server
    await server.stop()


async def test_smtp_server_down_is_a_connection_error_not_a_rejection(
    smtp_server: LocalSmtpServer,
) -> None:
    await smtp_server.stop()
    mailer = SmtpMailer("127.0.0.1", smtp_server.port, SENDER, timeout=5)
    with pytest.raises(ConnectionError) as raised:  # an OSError
        await mailer.send(outgoing())
    assert not isinstance(raised.value, MailRejected)


async def test_smtp_550_for_the_recipient_is_a_rejection(smtp_server: LocalSmtpServer) -> None:
    smtp_server.refused["nobody@example.org"] = "550 5.1.1 No such mailbox here"
    mailer = SmtpMailer("127.0.0.1", smtp_server.port, SENDER, timeout=5)
    with pytest.raises(MailRejected, match="550"):
        await mailer.send(outgoing(to="nobody@example.org"))
    assert smtp_server.received == []


async def test_smtp_4xx_for_the_recipient_is_retryable(smtp_server: LocalSmtpServer) -> None:
    smtp_server.refused["busy@example.org"] = "450 4.2.1 Mailbox busy, try later"
    mailer = SmtpMailer("127.0.0.1", smtp_server.port, SENDER, timeout=5)
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as raised:
        await mailer.send(outgoing(to="busy@example.org"))
    assert not isinstance(raised.value, MailRejected)


@pytest.fixture
async def sendgrid() -> AsyncIterator[FakeSendGrid]:
    fake = FakeSendGrid()
    await fake.start()
    yield fake
    await fake.stop()


def sendgrid_mailer(fake: FakeSendGrid, key: str | None = None) -> SendGridMailer:
    return SendGridMailer(key or fake.api_key, SENDER, base_url=fake.base_url, timeout=5)


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_sendgrid_busy_or_down_is_retryable(sendgrid: FakeSendGrid, status: int) -> None:
    sendgrid.fail_with = status
    mailer = sendgrid_mailer(sendgrid)
    with pytest.raises(httpx.HTTPStatusError) as raised:
        await mailer.send(outgoing())
    await mailer.aclose()
    assert raised.value.response.status_code == status


async def test_sendgrid_400_is_a_rejection_with_its_error_text(sendgrid: FakeSendGrid) -> None:
    mailer = sendgrid_mailer(sendgrid)
    with pytest.raises(MailRejected, match="not contain a valid address"):
        await mailer.send(outgoing(to="not-an-address"))
    sendgrid.fail_with = 400
    with pytest.raises(MailRejected, match="Simulated 400"):
        await mailer.send(outgoing())
    await mailer.aclose()
    assert sendgrid.accepted == []


async def test_sendgrid_gets_the_bearer_key_and_a_wrong_key_is_not_a_rejection(
    sendgrid: FakeSendGrid,
) -> None:
    right, wrong = sendgrid_mailer(sendgrid), sendgrid_mailer(sendgrid, key="SG.revoked")
    await right.send(outgoing())
    with pytest.raises(httpx.HTTPStatusError):
        await wrong.send(outgoing())
    await right.aclose()
    await wrong.aclose()
    keys = [r.headers["authorization"] for r in sendgrid.requests]
    assert keys == [f"Bearer {sendgrid.api_key}", "Bearer SG.revoked"]


async def test_sendgrid_unreachable_is_a_connection_error(sendgrid: FakeSendGrid) -> None:
    await sendgrid.stop()
    mailer = sendgrid_mailer(sendgrid)
    with pytest.raises(httpx.ConnectError):
        await mailer.send(outgoing())
    await mailer.aclose()


async def test_sendgrid_leaves_a_client_it_was_given_open(sendgrid: FakeSendGrid) -> None:
    async with httpx.AsyncClient() as client:
        mailer = SendGridMailer("SG.test-key", SENDER, base_url=sendgrid.base_url, client=client)
        await mailer.send(outgoing())
        await mailer.aclose()
        assert not client.is_closed
    assert len(sendgrid.accepted) == 1
