from datetime import UTC, date, datetime, timedelta

import pytest

from shelfmark.lending.domain.calendar import LibraryCalendar
from shelfmark.lending.domain.fines import FineTerms, days_late, overdue_fine
from shelfmark.seedwork.money import Money

SUNDAY = 6
CALENDAR = LibraryCalendar(UTC, frozenset({SUNDAY}), frozenset({date(2026, 4, 6)}))
TERMS = FineTerms(per_day=Money(25), grace_days=1, cap=Money(500))
DUE = datetime(2026, 3, 16, 23, 59, 59, tzinfo=UTC)  # a Monday
COST = Money(2500)


def test_due_date_is_end_of_the_last_day() -> None:
    borrowed = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # Monday
    assert CALENDAR.deadline(borrowed, 14) == DUE


def test_a_due_date_on_a_sunday_moves_to_monday() -> None:
    borrowed = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)  # Sunday + 14 = Sunday
    assert CALENDAR.deadline(borrowed, 14) == datetime(2026, 3, 16, 23, 59, 59, tzinfo=UTC)


def test_a_due_date_on_a_closed_date_moves_past_it_and_past_sunday() -> None:
    # Saturday 4 April + 1 day = Sunday 5 April (closed), Monday 6 April is a holiday.
    assert CALENDAR.deadline(datetime(2026, 4, 4, 9, tzinfo=UTC), 1).date() == date(2026, 4, 7)


def test_the_deadline_is_in_library_time() -> None:
    from zoneinfo import ZoneInfo

    auckland = LibraryCalendar(ZoneInfo("Pacific/Auckland"), frozenset(), frozenset())
    borrowed = datetime(2026, 3, 2, 20, 0, tzinfo=UTC)  # already 3 March in Auckland
    due = auckland.deadline(borrowed, 14)
    assert due.astimezone(ZoneInfo("Pacific/Auckland")).date() == date(2026, 3, 17)
    assert due.astimezone(ZoneInfo("Pacific/Auckland")).time().isoformat() == "23:59:59"


@pytest.mark.parametrize(
    ("returned", "late"),
    [
        (DUE, 0),
        (DUE - timedelta(days=3), 0),
        (DUE + timedelta(seconds=1), 1),  # a started day counts
        (DUE + timedelta(days=1), 1),
        (DUE + timedelta(days=1, seconds=1), 2),
    ],
)
def test_days_late_counts_started_days(returned: datetime, late: int) -> None:
    assert days_late(DUE, returned) == late


@pytest.mark.parametrize(
    ("returned", "fine"),
    [
        (DUE, "0.00"),
        (datetime(2026, 3, 17, 10, tzinfo=UTC), "0.00"),  # 1 day late: inside grace
        (datetime(2026, 3, 18, 10, tzinfo=UTC), "0.50"),  # 2 days: both count beyond grace
        (datetime(2026, 3, 20, 10, tzinfo=UTC), "1.00"),  # 4 started days late
        (datetime(2026, 3, 23, 10, tzinfo=UTC), "1.50"),  # 7 days, Sunday 22 not charged
        (datetime(2026, 5, 16, 10, tzinfo=UTC), "5.00"),  # capped
    ],
)
def test_overdue_fine(returned: datetime, fine: str) -> None:
    assert str(overdue_fine(DUE, returned, TERMS, CALENDAR, COST)) == fine


def test_the_fine_never_exceeds_the_replacement_cost() -> None:
    assert overdue_fine(DUE, DUE + timedelta(days=60), TERMS, CALENDAR, Money(300)) == Money(300)
