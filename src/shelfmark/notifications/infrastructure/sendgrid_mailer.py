"""A mailer that posts messages to SendGrid's v3 HTTP API (`POST /v3/mail/send`).

Rules: 2xx (SendGrid answers 202) is sent. 429 and 5xx mean "retry later" and raise
`httpx.HTTPStatusError`, and so do 401 and 403: a bad key or an unverified sender is our
configuration, not this message, and every message would fail the same way. Any other 4xx is
`MailRejected` carrying SendGrid's error text. The message id travels in `custom_args`
(SendGrid does not let a caller set the Message-ID header)."""

from __future__ import annotations

from email.utils import parseaddr
from typing import Any

import httpx

from shelfmark.notifications.application.ports import MailRejected, OutgoingEmail

_RETRYABLE_CLIENT_ERRORS = frozenset({401, 403, 408, 429})


def _address(value: str) -> dict[str, str]:
    name, address = parseaddr(value)
    return {"email": address or value, "name": name} if name else {"email": address or value}


def _error_text(response: httpx.Response) -> str:
    try:
        errors = response.json().get("errors", [])
        messages = [str(e.get("message", e)) for e in errors if isinstance(e, dict)]
    except (ValueError, AttributeError):
        messages = []
    return "; ".join(messages) or response.text[:500] or response.reason_phrase


class SendGridMailer:
    def __init__(
        self,
        api_key: str,
        sender: str,
        *,
        base_url: str = "https://api.sendgrid.com",
        timeout: float = 10.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._url = f"{base_url.rstrip('/')}/v3/mail/send"
        self._headers = {"Authorization": f"Bearer {api_key}"}
        self._sender = sender
        self._owns_client = client is None
        self._client = client if client is not None else httpx.AsyncClient(timeout=timeout)
        self._timeout = timeout

    def body(self, email: OutgoingEmail) -> dict[str, Any]:
        return {
            "personalizations": [{"to": [_address(email.to)]}],
            "from": _address(self._sender),
            "subject": email.subject,
            "content": [
                {"type": "text/plain", "value": email.text},
                {"type": "text/html", "value": email.html},
            ],
            "custom_args": {"message_id": email.message_id},
        }

    async def send(self, email: OutgoingEmail) -> None:
        response = await self._client.post(
            self._url, json=self.body(email), headers=self._headers, timeout=self._timeout
        )
        if response.is_success:
            return
        status = response.status_code
        if 400 <= status < 500 and status not in _RETRYABLE_CLIENT_ERRORS:
            raise MailRejected(
                f"SendGrid refused {email.message_id} ({status}): {_error_text(response)}"
            )
        response.raise_for_status()

    async def aclose(self) -> None:
        """Closes the HTTP client if this mailer created it; a client passed in is the
        caller's to close."""
        if self._owns_client:
            await self._client.aclose()
