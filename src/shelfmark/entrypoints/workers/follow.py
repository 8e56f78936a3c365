"""Keeps an in-process read cache true to what the other API processes of the same server
changed (`api_processes` > 1): every `peer_poll_seconds` it reads the events the relay has
published since its last look (`PublishedFeed`) and forgets what they made stale.

It follows published events rather than committed ones so that a first page it forgets is
reloaded from a search index that has already applied the change (the relay hands an event on
to the index before it marks it published). A process's own writes are forgotten at their
commit, as in a single process (bootstrap/cache.py)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import structlog

from shelfmark.bootstrap import Shelfmark
from shelfmark.bootstrap.cache import CacheInvalidation
from shelfmark.seedwork.infrastructure.published_feed import PublishedFeed

log = structlog.get_logger("shelfmark.follow")

#: How far before its start the feed begins: longer than a relay round takes, so that a round
#: that began before this process and was marked after it is still read.
LOOKBACK = timedelta(minutes=1)


class CacheFollower:
    def __init__(self, app: Shelfmark) -> None:
        self.app = app
        self.feed = PublishedFeed(app.engines.read, app.clock.now(), lookback=LOOKBACK)
        self.invalidation = CacheInvalidation(app.cache)

    async def round(self) -> int:
        """Forgets what the next batch of published events made stale; returns its size."""
        envelopes = await self.feed.next_batch()
        await self.invalidation.forget_all(envelopes)
        self.feed.done()
        return len(envelopes)

    async def run(self) -> None:
        """Follows until cancelled; a failed look (the database busy or gone) is logged and
        tried again from the same place, so nothing published meanwhile is skipped."""
        while True:
            try:
                followed = await self.round()
            except Exception as error:
                log.warning("cache follower could not read the outbox", error=repr(error))
                followed = 0
            if followed < self.feed.batch:
                await asyncio.sleep(self.app.settings.peer_poll_seconds)
