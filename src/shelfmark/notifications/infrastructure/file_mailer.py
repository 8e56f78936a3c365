"""A mailer that "sends" by writing each message to a directory as an `.eml` file, for
development and for tests: open the files in any mail client.

Rules: one file per message id, so a resend overwrites the first copy instead of adding a
second; the file appears whole or not at all (written to a temporary file, then renamed).

The file is written on the caller's thread, the event loop's, as the embedded mode's SQLite
statements are (`inline_sqlite.py`): a few kilobytes and an fsync take about 0.4 ms here, and a
hop to a worker thread cost the mail sender a turn of the loop per message, which under load
let the queue grow faster than it was sent."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

from shelfmark.notifications.application.ports import OutgoingEmail
from shelfmark.notifications.infrastructure.mime import build_message

_UNSAFE = re.compile(r"[^A-Za-z0-9._@-]+")


def file_name(message_id: str) -> str:
    """Readable and stable: the id's safe characters plus a short hash of the whole id, so
    two ids that differ only in unsafe characters never share a file."""
    readable = _UNSAFE.sub("_", message_id.strip("<>"))[:80]
    digest = hashlib.sha256(message_id.encode()).hexdigest()[:12]
    return f"{readable}-{digest}.eml"


class FileMailer:
    def __init__(self, directory: Path, sender: str) -> None:
        self._directory = directory
        self._sender = sender

    async def send(self, email: OutgoingEmail) -> None:
        data = build_message(email, self._sender).as_bytes()
        self._write(file_name(email.message_id), data)

    def _write(self, name: str, data: bytes) -> None:
        self._directory.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=self._directory, suffix=".tmp")
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self._directory / name)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    async def aclose(self) -> None:
        """Nothing to release."""
