"""The lending policy: one validated document of every configurable number.

The domain only holds and checks it; where it comes from (the built-in preset, a TOML file,
etcd) is the infrastructure's business.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shelfmark.lending.domain.calendar import WEEKDAYS, LibraryCalendar
from shelfmark.seedwork.domain import InvalidValue
from shelfmark.seedwork.money import Money


class PolicyError(ValueError):
    """The policy document breaks one of its own rules."""


@dataclass(frozen=True)
class CategoryPolicy:
    max_loans: int
    loan_period_days: int
    renewals: int
    max_holds: int | None = None  # None: unlimited
    open_ended_holds: bool = False
    restricted_copies: bool = False

    def __post_init__(self) -> None:
        for name in ("max_loans", "loan_period_days"):
            if getattr(self, name) < 1:
                raise PolicyError(f"{name} must be at least 1")
        if self.renewals < 0:
            raise PolicyError("renewals must not be negative")
        if self.max_holds is not None and self.max_holds < 0:
            raise PolicyError("max_holds must not be negative (leave it out for unlimited)")


def _check_money(value: Decimal, name: str) -> None:
    if value < 0:
        raise PolicyError(f"{name} must not be negative")
    try:
        Money.parse(value, name)
    except InvalidValue as error:
        raise PolicyError(f"{name}: {error.detail}") from None


@dataclass(frozen=True)
class LibraryRules:
    """Library-wide numbers and the opening calendar."""

    timezone: str = "UTC"
    closed_weekdays: tuple[str, ...] = ("sunday",)
    closed_dates: tuple[date, ...] = ()
    pickup_window_days: int = 7
    hold_expiry_days: int = 365
    fine_per_day: Decimal = Decimal("0.25")
    fine_grace_days: int = 1
    fine_cap: Decimal = Decimal("5.00")
    fee_block_threshold: Decimal = Decimal("10.00")
    overdue_block_count: int = 2
    lost_after_days_overdue: int = 30
    lost_processing_fee: Decimal = Decimal("5.00")
    lost_refund_days: int = 90
    due_soon_notice_days: int = 3
    membership_years: int = 3

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise PolicyError(f"unknown time zone {self.timezone!r}") from None
        unknown = [d for d in self.closed_weekdays if d.lower() not in WEEKDAYS]
        if unknown:
            raise PolicyError(
                f"closed_weekdays has unknown days {unknown}; use names like 'sunday'"
            )
        if len({d.lower() for d in self.closed_weekdays}) == len(WEEKDAYS):
            raise PolicyError("the library cannot be closed on every day of the week")
        for name in (
            "pickup_window_days",
            "hold_expiry_days",
            "overdue_block_count",
            "lost_after_days_overdue",
            "membership_years",
        ):
            if getattr(self, name) < 1:
                raise PolicyError(f"{name} must be at least 1")
        for name in ("fine_grace_days", "lost_refund_days", "due_soon_notice_days"):
            if getattr(self, name) < 0:
                raise PolicyError(f"{name} must not be negative")
        for name in ("fine_per_day", "fine_cap", "fee_block_threshold", "lost_processing_fee"):
            _check_money(getattr(self, name), name)

    def money(self, name: str) -> Money:
        return Money.parse(getattr(self, name), name)

    @property
    def calendar(self) -> LibraryCalendar:
        return LibraryCalendar(
            ZoneInfo(self.timezone),
            frozenset(WEEKDAYS.index(d.lower()) for d in self.closed_weekdays),
            frozenset(self.closed_dates),
        )


@dataclass(frozen=True)
class LendingPolicy:
    name: str
    categories: dict[str, CategoryPolicy]
    library: LibraryRules = field(default_factory=LibraryRules)

    def __post_init__(self) -> None:
        known = {"regular", "premium", "researcher"}
        if missing := known - set(self.categories):
            raise PolicyError(f"categories {sorted(missing)} are missing from the policy")
        if unknown := set(self.categories) - known:
            raise PolicyError(f"categories {sorted(unknown)} are not patron categories")

    def for_category(self, category: str) -> CategoryPolicy:
        return self.categories[category]
