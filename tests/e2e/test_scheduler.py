"""The daily scheduler: due after the configured local time, once per day across processes."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from shelfmark.bootstrap import bootstrap
from shelfmark.config import Settings
from shelfmark.entrypoints.workers.scheduler import DailyScheduler
from shelfmark.seedwork.infrastructure.database import Engines
from tests.support.clock import MutableClock


async def test_two_schedulers_run_the_day_once_and_not_before_its_time(engines: Engines) -> None:
    clock = MutableClock(datetime(2026, 3, 3, 1, 59, tzinfo=UTC))
    settings = Settings(daily_jobs_at=time(2, 0))
    first = DailyScheduler(bootstrap(settings, clock=clock, engines=engines))
    second = DailyScheduler(bootstrap(settings, clock=clock, engines=engines))

    assert [await first.tick(), await second.tick()] == [False, False]  # 01:59: not yet
    clock.set(datetime(2026, 3, 3, 2, 0, tzinfo=UTC))
    assert [await first.tick(), await second.tick()] == [True, False]
    clock.set(datetime(2026, 3, 3, 23, 0, tzinfo=UTC))
    assert [await second.tick(), await first.tick()] == [False, False]  # same day: done
    clock.set(datetime(2026, 3, 4, 2, 30, tzinfo=UTC))
    assert [await second.tick(), await first.tick()] == [True, False]  # next day: once again


async def test_a_failed_run_is_tried_again_at_the_next_tick(
    engines: Engines, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = MutableClock(datetime(2026, 3, 3, 2, 30, tzinfo=UTC))
    app = bootstrap(Settings(daily_jobs_at=time(2, 0)), clock=clock, engines=engines)
    scheduler = DailyScheduler(app)
    real_run = app.run_daily_jobs

    async def broken() -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(app, "run_daily_jobs", broken)
    with pytest.raises(RuntimeError):
        await scheduler.tick()
    monkeypatch.setattr(app, "run_daily_jobs", real_run)
    assert await scheduler.tick() is True
