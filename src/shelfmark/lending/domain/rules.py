"""Borrowing rules. Each names one rule; a refusal lists every rule that failed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from uuid import UUID

from shelfmark.lending.domain.policies import CategoryPolicy, LendingPolicy
from shelfmark.seedwork.domain import Reason
from shelfmark.seedwork.money import Money


@dataclass(frozen=True)
class Borrower:
    """What lending knows of a patron (from the patrons context, through a port)."""

    patron_id: UUID
    category: str
    suspended: bool
    card_expires_on: date


@dataclass(frozen=True)
class BorrowerRecord:
    open_loans: int
    overdue_loans: int
    balance: Money


@dataclass(frozen=True)
class Standing:
    borrower: Borrower
    record: BorrowerRecord
    policy: LendingPolicy
    today: date

    @property
    def category(self) -> CategoryPolicy:
        return self.policy.for_category(self.borrower.category)


Rule = Callable[[Standing], Reason | None]


def patron_must_not_be_suspended(s: Standing) -> Reason | None:
    if s.borrower.suspended:
        return Reason("PATRON_SUSPENDED", "the patron is suspended")
    return None


def card_must_be_valid(s: Standing) -> Reason | None:
    if s.borrower.card_expires_on < s.today:
        return Reason("MEMBERSHIP_EXPIRED", f"the card expired on {s.borrower.card_expires_on}")
    return None


def patron_must_be_under_loan_limit(s: Standing) -> Reason | None:
    limit = s.category.max_loans
    if s.record.open_loans >= limit:
        return Reason(
            "MAX_LOANS_REACHED", f"the patron already has {limit} loans, the most allowed"
        )
    return None


def patron_must_not_have_overdue_loans(s: Standing) -> Reason | None:
    limit = s.policy.library.overdue_block_count
    if s.record.overdue_loans >= limit:
        return Reason("OVERDUE_LIMIT", f"the patron has {s.record.overdue_loans} overdue loans")
    return None


def balance_must_be_under_limit(s: Standing) -> Reason | None:
    limit = s.policy.library.money("fee_block_threshold")
    if s.record.balance >= limit:
        return Reason("FEE_BALANCE_LIMIT", f"the fee balance {s.record.balance} reaches {limit}")
    return None


BORROWING_RULES: tuple[Rule, ...] = (
    patron_must_not_be_suspended,
    card_must_be_valid,
    patron_must_be_under_loan_limit,
    patron_must_not_have_overdue_loans,
    balance_must_be_under_limit,
)

RENEWAL_RULES: tuple[Rule, ...] = tuple(
    rule for rule in BORROWING_RULES if rule is not patron_must_be_under_loan_limit
)


def failing(rules: Sequence[Rule], standing: Standing) -> list[Reason]:
    return [r for r in (rule(standing) for rule in rules) if r is not None]
