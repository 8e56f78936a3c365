"""Overdue fines: whole started days late, grace, closed days free, capped."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from shelfmark.lending.domain.calendar import LibraryCalendar
from shelfmark.seedwork.money import Money

DAY = timedelta(days=1)


@dataclass(frozen=True)
class FineTerms:
    """The fine numbers snapshotted on a loan when it was opened."""

    per_day: Money
    grace_days: int
    cap: Money


def days_late(due_at: datetime, at: datetime) -> int:
    """Whole days from the due date to `at`; a started day counts."""
    if at <= due_at:
        return 0
    return math.ceil((at - due_at) / DAY)


def overdue_fine(
    due_at: datetime,
    at: datetime,
    terms: FineTerms,
    calendar: LibraryCalendar,
    replacement_cost: Money,
) -> Money:
    """The fine a loan due at `due_at` has accrued by `at`, before any earlier assessment.

    Within the grace period the fine is 0; beyond it every late day on which the library is
    open costs `per_day`. Capped at the smaller of the cap and the copy's replacement cost.
    """
    late = days_late(due_at, at)
    if late <= terms.grace_days:
        return Money.zero()
    first_late_day = calendar.local_date(due_at) + DAY
    charged = terms.per_day.times(calendar.open_days_between(first_late_day, late))
    return min(charged, terms.cap, replacement_cost)
