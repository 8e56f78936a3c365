"""The library's opening calendar: local dates, closed days, end-of-day deadlines."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
END_OF_DAY = time(23, 59, 59)


@dataclass(frozen=True)
class LibraryCalendar:
    timezone: tzinfo
    closed_weekdays: frozenset[int]  # 0 = Monday
    closed_dates: frozenset[date]

    def is_open(self, day: date) -> bool:
        return day.weekday() not in self.closed_weekdays and day not in self.closed_dates

    def local_date(self, instant: datetime) -> date:
        return instant.astimezone(self.timezone).date()

    def next_open_day(self, day: date) -> date:
        """`day` itself when open, else the first open day after it."""
        while not self.is_open(day):
            day += timedelta(days=1)
        return day

    def deadline(self, start: datetime, days: int) -> datetime:
        """`days` after `start`'s local date, at 23:59:59 local time, moved past closed days."""
        day = self.next_open_day(self.local_date(start) + timedelta(days=days))
        return datetime.combine(day, END_OF_DAY, tzinfo=self.timezone)

    def open_days_between(self, first: date, count: int) -> int:
        """How many of the `count` days starting at `first` the library is open."""
        return sum(1 for k in range(count) if self.is_open(first + timedelta(days=k)))
