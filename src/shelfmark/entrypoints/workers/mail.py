"""Sends queued e-mail every `mail_poll_seconds`, straight on while a full batch came back."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import structlog

from shelfmark.bootstrap import Shelfmark
from shelfmark.notifications.application.sending import send_due
from shelfmark.seedwork.infrastructure.giving_way import in_steps

log = structlog.get_logger("shelfmark.mail")

BATCH = 50


class MailWorker:
    def __init__(self, app: Shelfmark) -> None:
        self.app = app

    async def round(self) -> int:
        """Sends what is due; returns how many messages were handled (sent, retried, failed)."""
        with in_steps():  # a share of the loop as the requests in flight have (giving_way.py)
            report = await send_due(
                self.app.events.notifications,
                self.app.events.mailer,
                self.app.clock,
                max_attempts=self.app.settings.mail_max_attempts,
                limit=BATCH,
                first_retry=timedelta(seconds=self.app.settings.mail_first_retry_seconds),
            )
        if report.errors:
            log.warning(
                "e-mail provider unavailable", retrying=report.retrying, failed=report.failed
            )
        return report.sent + report.retrying + report.failed

    async def run(self) -> None:
        while True:
            try:
                handled = await self.round()
            except Exception:
                log.exception("mail round failed")
                handled = 0
            if handled < BATCH:
                await asyncio.sleep(self.app.settings.mail_poll_seconds)
