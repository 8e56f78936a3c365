"""The MIME message every mailer sends: what a mail client reads back, and what is refused."""

from __future__ import annotations

import email
from email.message import EmailMessage
from email.policy import default

import pytest

from shelfmark.notifications.application.ports import MailRejected, OutgoingEmail
from shelfmark.notifications.infrastructure.mime import build_message


def outgoing(**fields: str) -> OutgoingEmail:
    values = {
        "message_id": "<n1@shelfmark>",
        "to": "Zoë Ødegaard <zoe@example.org>",
        "subject": "Your loan receipt: “Dune” — 読書",
        "text": "Dear Zoë,\n\n" + "x" * 200 + "\n.\n",
        "html": "<p>Dear Zoë,</p>\n",
    }
    return OutgoingEmail(**(values | fields))


def read_back(
    message: OutgoingEmail, sender: str = "Bibliothèque <library@example.org>"
) -> EmailMessage:
    data = build_message(message, sender).as_bytes()
    assert data.isascii(), "headers as encoded words, bodies quoted-printable"
    return email.message_from_bytes(data, _class=EmailMessage, policy=default)


def test_a_client_reads_back_every_header_and_both_parts_in_order() -> None:
    message = read_back(outgoing())
    assert message["From"] == "Bibliothèque <library@example.org>"
    assert message["To"] == "Zoë Ødegaard <zoe@example.org>"
    assert message["Subject"] == "Your loan receipt: “Dune” — 読書"
    assert message["Message-ID"] == "<n1@shelfmark>"
    assert message["Date"] is not None
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    text, html = (p.get_content() for p in message.iter_parts())
    assert (text, html) == (outgoing().text, outgoing().html)


def test_a_plain_subject_stays_plain() -> None:
    data = build_message(outgoing(subject="Returned: Dune"), "library@example.org").as_bytes()
    assert b"\nSubject: Returned: Dune\n" in data


@pytest.mark.parametrize(
    "fields",
    [
        {"subject": "Dune\r\nBcc: everyone@example.org"},
        {"to": "zoe@example.org\nBcc: everyone@example.org"},
        {"message_id": "<n1@shelfmark>\n"},
        {"to": "not an address"},
    ],
)
def test_a_message_that_cannot_be_built_is_refused_for_good(fields: dict[str, str]) -> None:
    with pytest.raises(MailRejected, match="cannot build message"):
        build_message(outgoing(**fields), "library@example.org")
