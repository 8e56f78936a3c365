"""Runs the outbox relay: a batch whenever a command committed (in this process, or anywhere
through PostgreSQL's NOTIFY) and at least every `relay_poll_seconds` (`peer_poll_seconds`
beside other API processes on SQLite, whose commits cannot wake it); backs off while the
transport is down; prunes published rows past their retention once an hour."""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import timedelta

import structlog

from shelfmark.bootstrap import Shelfmark
from shelfmark.seedwork.infrastructure.pg_listener import PgListener
from shelfmark.seedwork.infrastructure.relay import retention_cutoff

log = structlog.get_logger("shelfmark.relay")

OUTBOX_CHANNEL = "shelfmark_outbox"
FIRST_BACKOFF_SECONDS = 0.2
LONGEST_BACKOFF_SECONDS = 2.0
PRUNE_EVERY = timedelta(hours=1)
PENDING_GAUGE_EVERY_SECONDS = 5.0


class RelayWorker:
    def __init__(self, app: Shelfmark) -> None:
        self.app = app
        self.events = app.events
        self._backoff = FIRST_BACKOFF_SECONDS
        self._pruned_at = app.clock.now() - PRUNE_EVERY
        self._gauge_at = 0.0

    async def run(self) -> None:
        listener = await self._listen()
        try:
            while True:
                self.events.wake.clear()
                more = await self._round()
                if not more:
                    await self._wait(self._poll_seconds(listening=listener is not None))
        finally:
            if listener is not None:
                await listener.stop()

    def _poll_seconds(self, *, listening: bool) -> float:
        settings = self.app.settings
        if settings.api_processes > 1 and not listening:
            return min(settings.relay_poll_seconds, settings.peer_poll_seconds)
        return settings.relay_poll_seconds

    async def _round(self) -> bool:
        """One batch; True when more rows are probably waiting right now."""
        try:
            published = await self.events.relay.relay_once(self.app.clock.now())
        except Exception as error:  # the transport (or the database) is down: back off
            log.warning("relay round failed", error=repr(error), backoff=self._backoff)
            await self._sample_backlog()
            await asyncio.sleep(self._backoff)
            self._backoff = min(self._backoff * 2, LONGEST_BACKOFF_SECONDS)
            return True
        self._backoff = FIRST_BACKOFF_SECONDS
        await self._prune()
        await self._sample_backlog()
        return published >= self.app.settings.relay_batch_size

    async def _prune(self) -> None:
        now = self.app.clock.now()
        if now - self._pruned_at >= PRUNE_EVERY:
            self._pruned_at = now
            cutoff = retention_cutoff(now, self.app.settings.outbox_retention_hours)
            pruned = await self.events.relay.prune(cutoff)
            if pruned:
                log.info("outbox pruned", rows=pruned)

    async def _sample_backlog(self) -> None:
        """The backlog gauge, also while the transport is down (when it matters most)."""
        if time.monotonic() - self._gauge_at < PENDING_GAUGE_EVERY_SECONDS:
            return
        self._gauge_at = time.monotonic()
        try:
            self.app.metrics.outbox_pending.set(await self.events.relay.pending())
        except Exception as error:  # the database itself is down; the next round retries
            log.warning("outbox backlog unreadable", error=repr(error))

    async def _wait(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.events.wake.wait(), seconds)

    async def _listen(self) -> PgListener | None:
        if self.app.engines.write.dialect.name != "postgresql":
            return None
        listener = PgListener(self.app.settings.database_url, OUTBOX_CHANNEL, self.events.wake)
        try:
            await listener.start()
        except Exception as error:  # polling still works; say so and carry on
            log.warning("outbox LISTEN unavailable, polling only", error=repr(error))
            return None
        return listener
