"""A mailer that hands messages to an SMTP server (aiosmtplib), one connection per message.

Rules: a 5xx refusal of this message (its recipient at RCPT, its content at DATA) is
`MailRejected`. Everything else propagates and means "retry later": connection errors and
timeouts, any 4xx, and refusals of the session itself (greeting, HELO, AUTH, our MAIL FROM),
which are about the server or our configuration, not about this message."""

from __future__ import annotations

import aiosmtplib

from shelfmark.notifications.application.ports import MailRejected, OutgoingEmail
from shelfmark.notifications.infrastructure.mime import build_message, envelope_address, smtp_bytes


def _permanent(code: int) -> bool:
    return 500 <= code < 600


class SmtpMailer:
    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        *,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = 10.0,
    ) -> None:
        self._host = host
        self._port = port
        self._sender = sender
        self._username = username
        self._password = password
        self._starttls = starttls
        self._timeout = timeout

    async def send(self, email: OutgoingEmail) -> None:
        message = build_message(email, self._sender)
        try:
            await aiosmtplib.send(
                smtp_bytes(message),
                sender=envelope_address(message["From"]),
                recipients=[envelope_address(message["To"])],
                hostname=self._host,
                port=self._port,
                username=self._username,
                password=self._password,
                start_tls=self._starttls,
                timeout=self._timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            if any(_permanent(refused.code) for refused in error.recipients):
                reasons = "; ".join(f"{r.code} {r.message}" for r in error.recipients)
                raise MailRejected(f"recipient refused: {reasons}") from error
            raise
        except (aiosmtplib.SMTPRecipientRefused, aiosmtplib.SMTPDataError) as error:
            if _permanent(error.code):
                raise MailRejected(f"refused: {error.code} {error.message}") from error
            raise

    async def aclose(self) -> None:
        """Nothing to release: each message uses its own connection."""
