"""Builders for lending's domain tests."""

from __future__ import annotations

import uuid
from datetime import date

from shelfmark.lending.domain.checkout import ShelfCopy
from shelfmark.lending.domain.policies import LendingPolicy
from shelfmark.lending.domain.rules import Borrower, BorrowerRecord, Standing
from shelfmark.lending.infrastructure.policy_source import load_policy
from shelfmark.seedwork.money import Money
from tests.support.clock import MONDAY

POLICY: LendingPolicy = load_policy(None)
TODAY = MONDAY.date()


def borrower(
    category: str = "regular", suspended: bool = False, card_expires_on: date = date(2029, 1, 1)
) -> Borrower:
    return Borrower(uuid.uuid4(), category, suspended, card_expires_on)


def standing(
    open_loans: int = 0,
    overdue: int = 0,
    balance: str = "0.00",
    **borrower_fields: object,
) -> Standing:
    return Standing(
        borrower(**borrower_fields),  # type: ignore[arg-type]
        BorrowerRecord(open_loans, overdue, Money.parse(balance)),
        POLICY,
        TODAY,
    )


def shelf_copy(
    circulation: str = "circulating", on_loan: bool = False, barcode: str = ""
) -> ShelfCopy:
    return ShelfCopy(
        uuid.uuid4(), barcode or uuid.uuid4().hex[:8], circulation, Money(2500), on_loan
    )
