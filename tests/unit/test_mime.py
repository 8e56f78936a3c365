"""The MIME message every mailer sends: what a mail client reads back, and what is refused."""

from __future__ import annotations

import email
from email.message import EmailMessage
from email.policy import default
from uuid import UUID

import pytest

from shelfmark.notifications.application.ports import MailRejected, OutgoingEmail
from shelfmark.notifications.infrastructure.mime import build_message, smtp_bytes


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
        {"to": "zoë@example.org"},  # a mailbox name that only SMTPUTF8 can carry
    ],
)
def test_a_message_that_cannot_be_built_is_refused_for_good(fields: dict[str, str]) -> None:
    with pytest.raises(MailRejected, match="cannot build message"):
        build_message(outgoing(**fields), "library@example.org")


def test_a_domain_that_is_not_ascii_goes_out_in_idna() -> None:
    message = read_back(outgoing(to="Zoë <zoe@exämple.org>"))
    assert message["To"].addresses[0].addr_spec == "zoe@xn--exmple-cua.org"


def test_smtp_bytes_keep_a_body_line_that_starts_with_from() -> None:
    """mbox-style mangling ('>From ') would change the text the patron reads."""
    text = "Dear Zoë,\nFrom Here to Eternity is due back on Friday.\n"
    data = smtp_bytes(build_message(outgoing(text=text), "library@example.org"))
    assert b"\r\nFrom Here to Eternity" in data
    assert b">From" not in data
    parsed = email.message_from_bytes(data, _class=EmailMessage, policy=default)
    assert next(parsed.iter_parts()).get_content().replace("\r\n", "\n") == text


def test_each_message_has_a_boundary_of_its_own() -> None:
    boundaries = {build_message(outgoing(), "library@example.org").get_boundary() for _ in range(3)}
    assert len(boundaries) == 3
    assert all(b is not None and b.startswith("=_") for b in boundaries)


def test_a_body_that_quotes_the_boundary_still_reads_back_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = UUID(int=7)
    monkeypatch.setattr("shelfmark.notifications.infrastructure.mime.uuid4", lambda: token)
    quoting = f"--=_{token.hex}\n--=_{token.hex}--\n"
    message = read_back(outgoing(text=quoting, html=f"<pre>{quoting}</pre>"))
    assert message.get_boundary() == f"=_{token.hex}"
    text, html = (p.get_content() for p in message.iter_parts())
    assert (text, html) == (quoting, f"<pre>{quoting}</pre>")
