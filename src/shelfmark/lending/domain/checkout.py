"""Checkout: the patron's standing and the book's copies decide together whether a loan opens."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from shelfmark.lending.domain.errors import BorrowingRefused, CopyNotFound
from shelfmark.lending.domain.fines import FineTerms
from shelfmark.lending.domain.model import Loan, LoanTerms
from shelfmark.lending.domain.policies import CategoryPolicy, LendingPolicy
from shelfmark.lending.domain.rules import BORROWING_RULES, Standing, failing
from shelfmark.seedwork.domain import Reason
from shelfmark.seedwork.money import Money

REFERENCE = "reference"
RESTRICTED = "restricted"


@dataclass(frozen=True)
class ShelfCopy:
    """A copy of the book as lending sees it: its class, its cost, whether it is out on loan,
    and for whom it is kept on the hold shelf."""

    copy_id: UUID
    barcode: str
    circulation: str
    replacement_cost: Money
    on_loan: bool
    held_for: UUID | None = None

    @property
    def on_shelf(self) -> bool:
        return not self.on_loan and self.held_for is None

    def may_go_to(self, restricted_ok: bool) -> bool:
        """Whether this copy may be lent (or kept) for someone, by its class alone."""
        return self.circulation != REFERENCE and (self.circulation != RESTRICTED or restricted_ok)


def copy_refusal(copy: ShelfCopy, category: CategoryPolicy, patron_id: UUID) -> Reason | None:
    if copy.circulation == REFERENCE:
        return Reason("REFERENCE_ONLY", f"copy {copy.barcode} is for reference only")
    if not copy.may_go_to(category.restricted_copies):
        return Reason("RESTRICTED_FOR_CATEGORY", f"copy {copy.barcode} is lent to researchers only")
    if copy.on_loan:
        return Reason("NO_COPY_AVAILABLE", f"copy {copy.barcode} is on loan")
    if copy.held_for not in (None, patron_id):
        return Reason(
            "COPY_HELD_FOR_ANOTHER_PATRON", f"copy {copy.barcode} is kept for another patron"
        )
    return None


_MOST_TELLING = ("REFERENCE_ONLY", "RESTRICTED_FOR_CATEGORY", "COPY_HELD_FOR_ANOTHER_PATRON")


def choose_copy(
    copies: Sequence[ShelfCopy], category: CategoryPolicy, patron_id: UUID, barcode: str | None
) -> tuple[ShelfCopy | None, list[Reason]]:
    """The named copy, the copy kept for this patron, or the first one they may take; else why
    none can be taken.

    Without a named copy the reason is the most telling one: a copy on the shelf that the
    patron may not take (reference, restricted, kept for someone else) explains more than
    "none available".
    """
    if barcode is not None:
        named = next((c for c in copies if c.barcode == barcode), None)
        if named is None:
            raise CopyNotFound(f"the book has no copy {barcode}")
        refusal = copy_refusal(named, category, patron_id)
        return (None, [refusal]) if refusal else (named, [])
    kept = next((c for c in copies if c.held_for == patron_id and not c.on_loan), None)
    if kept is not None:
        return kept, []
    refusals = []
    for copy in copies:
        refusal = copy_refusal(copy, category, patron_id)
        if refusal is None:
            return copy, []
        refusals.append(refusal)
    for code in _MOST_TELLING:
        telling = next((r for r in refusals if r.code == code), None)
        if telling:
            return None, [telling]
    return None, [Reason("NO_COPY_AVAILABLE", "every copy of the book is on loan")]


def loan_terms(policy: LendingPolicy, category: CategoryPolicy) -> LoanTerms:
    library = policy.library
    return LoanTerms(
        loan_period_days=category.loan_period_days,
        renewals_allowed=category.renewals,
        fines=FineTerms(
            per_day=library.money("fine_per_day"),
            grace_days=library.fine_grace_days,
            cap=library.money("fine_cap"),
        ),
    )


def checkout(
    *,
    book_id: UUID,
    copies: Sequence[ShelfCopy],
    standing: Standing,
    barcode: str | None,
    now: datetime,
    actor: str,
    due_at: datetime | None = None,
) -> Loan:
    """Opens a loan, or refuses with every failing reason: the patron's and the copies'."""
    copy, copy_reasons = choose_copy(
        copies, standing.category, standing.borrower.patron_id, barcode
    )
    reasons = failing(BORROWING_RULES, standing) + copy_reasons
    if reasons or copy is None:
        raise BorrowingRefused(reasons)
    return Loan.open(
        book_id=book_id,
        copy_id=copy.copy_id,
        barcode=copy.barcode,
        patron_id=standing.borrower.patron_id,
        terms=loan_terms(standing.policy, standing.category),
        replacement_cost=copy.replacement_cost,
        calendar=standing.policy.library.calendar,
        now=now,
        actor=actor,
        due_at=due_at,
    )
