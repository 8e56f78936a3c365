"""A clock the test moves by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

# A Monday, so that a 14-day loan falls due on a Monday (the library closes on Sundays).
MONDAY = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


class MutableClock:
    def __init__(self, now: datetime = MONDAY) -> None:
        self._now = now

    def now(self) -> datetime:
        return self._now

    def set(self, now: datetime) -> None:
        self._now = now

    def advance(self, **delta: float) -> None:
        self._now += timedelta(**delta)
