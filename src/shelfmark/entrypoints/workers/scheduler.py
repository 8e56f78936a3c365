"""Runs the daily jobs once a day, after the configured library-local time.

It reads the clock at short intervals rather than sleeping until a computed moment, and it
claims the day in the database first, so two schedulers (two processes) never both run it.
"""

from __future__ import annotations

import asyncio

import structlog

from shelfmark.bootstrap import Shelfmark

DAILY = "daily-jobs"
log = structlog.get_logger("shelfmark.scheduler")


class DailyScheduler:
    def __init__(self, app: Shelfmark) -> None:
        self.app = app

    async def tick(self) -> bool:
        """One look at the clock: runs today's jobs if they are due and nobody ran them yet."""
        now = self.app.clock.now()
        local = now.astimezone(self.app.policy.library.calendar.timezone)
        if local.time() < self.app.settings.daily_jobs_at:
            return False
        day = local.date()
        if not await self.app.job_runs.claim(DAILY, day, now):
            return False
        try:
            report = await self.app.run_daily_jobs()
        except BaseException:
            await self.app.job_runs.release(DAILY, day)
            raise
        await self.app.job_runs.finish(DAILY, day, self.app.clock.now())
        log.info("daily jobs ran", day=str(day), **report.changed)
        return True

    async def run(self) -> None:
        """Ticks until cancelled; a failed run is logged and tried again at the next tick."""
        while True:
            try:
                await self.tick()
            except Exception:
                log.exception("daily jobs failed")
            await asyncio.sleep(self.app.settings.scheduler_poll_seconds)
