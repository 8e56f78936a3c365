"""Real local mail servers for the mailer contract tests, on a free port of 127.0.0.1.

- `LocalSmtpServer`: aiosmtpd in the test's event loop; records every accepted message and
  answers RCPT for the addresses in `refused` with the reply given there (e.g. "550 ...").
- `FakeSendGrid`: a minimal HTTP/1.1 server speaking SendGrid's `POST /v3/mail/send`; checks
  the bearer key and the body's shape like SendGrid does, records every request, and answers
  `fail_with` (e.g. 503, 429, 400) instead of 202 while that is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import json
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default
from http import HTTPStatus
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


class _RecordingHandler:
    def __init__(self) -> None:
        self.received: list[ReceivedMail] = []
        self.refused: dict[str, str] = {}

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refused:
            return self.refused[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content if isinstance(envelope.content, bytes) else b""
        message = email.message_from_bytes(content, _class=EmailMessage, policy=default)
        self.received.append(
            ReceivedMail(str(envelope.mail_from), list(envelope.rcpt_tos), message)
        )
        return "250 Message accepted for delivery"


class LocalSmtpServer:
    def __init__(self) -> None:
        self._handler = _RecordingHandler()
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def received(self) -> list[ReceivedMail]:
        return self._handler.received

    @property
    def refused(self) -> dict[str, str]:
        return self._handler.refused

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SMTP(self._handler, hostname="mail.test", enable_SMTPUTF8=True, loop=loop),
            "127.0.0.1",
            self.port,
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def _error(status: int, message: str) -> tuple[int, dict[str, Any]]:
    return status, {"errors": [{"message": message, "field": None, "help": None}]}


@dataclass
class FakeSendGrid:
    api_key: str = "SG.test-key"
    fail_with: int | None = None
    requests: list[RecordedRequest] = field(default_factory=list)
    accepted: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def _answer(self, request: RecordedRequest) -> tuple[int, dict[str, Any] | None]:
        """SendGrid's order: route, then key, then body; an error carries SendGrid's shape."""
        if (request.method, request.path) != ("POST", "/v3/mail/send"):
            return _error(404, "Not found")
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return _error(401, "The provided authorization grant is invalid")
        if self.fail_with is not None:
            return _error(self.fail_with, f"Simulated {self.fail_with}")
        body = request.json()
        if "@" not in body["personalizations"][0]["to"][0]["email"]:
            return _error(400, "The to email does not contain a valid address.")
        self.accepted.append(body)
        return 202, None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            method, path, _ = (await reader.readline()).decode("latin-1").split(" ", 2)
            headers: dict[str, str] = {}
            while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            request = RecordedRequest(method, path, headers, body)
            self.requests.append(request)
            status, payload = self._answer(request)
            data = json.dumps(payload).encode() if payload is not None else b""
            head = (
                f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
                "Connection: close\r\n\r\n"
            )
            writer.write(head.encode("latin-1") + data)
            await writer.drain()
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
