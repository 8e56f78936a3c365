import uuid
from datetime import date

import pytest

from shelfmark.lending.domain.checkout import checkout, choose_copy
from shelfmark.lending.domain.errors import BorrowingRefused, CopyNotFound
from shelfmark.lending.domain.rules import BORROWING_RULES, RENEWAL_RULES, Standing, failing
from shelfmark.seedwork.domain import InvalidValue
from tests.support.clock import MONDAY
from tests.unit.lending_builders import POLICY, shelf_copy, standing

PATRON = uuid.uuid4()


def codes(s: Standing) -> list[str]:
    return [r.code for r in failing(BORROWING_RULES, s)]


def test_a_patron_in_good_standing_may_borrow() -> None:
    assert codes(standing()) == []


@pytest.mark.parametrize(
    ("category", "open_loans", "refused"),
    [
        ("regular", 4, False),  # the 5th loan is fine
        ("regular", 5, True),  # the 6th is refused
        ("premium", 9, False),
        ("premium", 10, True),
        ("researcher", 19, False),
        ("researcher", 20, True),
    ],
)
def test_max_active_loans_per_category(category: str, open_loans: int, refused: bool) -> None:
    assert ("MAX_LOANS_REACHED" in codes(standing(open_loans, category=category))) is refused


@pytest.mark.parametrize(
    ("balance", "refused"), [("9.99", False), ("10.00", True), ("12.50", True)]
)
def test_a_balance_of_ten_blocks(balance: str, refused: bool) -> None:
    assert ("FEE_BALANCE_LIMIT" in codes(standing(balance=balance))) is refused


@pytest.mark.parametrize(("overdue", "refused"), [(0, False), (1, False), (2, True)])
def test_two_overdue_loans_block(overdue: int, refused: bool) -> None:
    assert ("OVERDUE_LIMIT" in codes(standing(open_loans=overdue, overdue=overdue))) is refused


def test_an_expired_card_blocks_from_the_day_after_expiry() -> None:
    today = MONDAY.date()
    assert codes(standing(card_expires_on=today)) == []
    assert codes(standing(card_expires_on=date.fromordinal(today.toordinal() - 1))) == [
        "MEMBERSHIP_EXPIRED"
    ]


def test_every_failing_reason_is_reported_at_once() -> None:
    s = standing(5, 2, "10.00", suspended=True, card_expires_on=date(2020, 1, 1))
    assert codes(s) == [
        "PATRON_SUSPENDED",
        "MEMBERSHIP_EXPIRED",
        "MAX_LOANS_REACHED",
        "OVERDUE_LIMIT",
        "FEE_BALANCE_LIMIT",
    ]
    with pytest.raises(BorrowingRefused) as refusal:
        checkout(
            book_id=uuid.uuid4(),
            copies=[shelf_copy(on_loan=True)],
            standing=s,
            barcode=None,
            now=MONDAY,
            actor="desk",
        )
    assert [r.code for r in refusal.value.reasons][-1] == "NO_COPY_AVAILABLE"
    assert len(refusal.value.reasons) == 6


def test_renewal_ignores_the_loan_limit_only() -> None:
    s = standing(5, 2, "10.00")
    assert [r.code for r in failing(RENEWAL_RULES, s)] == ["OVERDUE_LIMIT", "FEE_BALANCE_LIMIT"]


def test_reference_copies_are_never_lent() -> None:
    copy, reasons = choose_copy(
        [shelf_copy("reference")], POLICY.for_category("researcher"), PATRON, None
    )
    assert copy is None and [r.code for r in reasons] == ["REFERENCE_ONLY"]


def test_restricted_copies_go_to_researchers_only() -> None:
    restricted = shelf_copy("restricted")
    _, reasons = choose_copy([restricted], POLICY.for_category("premium"), PATRON, None)
    assert [r.code for r in reasons] == ["RESTRICTED_FOR_CATEGORY"]
    chosen, reasons = choose_copy([restricted], POLICY.for_category("researcher"), PATRON, None)
    assert chosen == restricted and reasons == []


def test_the_first_copy_the_patron_may_take_is_chosen() -> None:
    free = shelf_copy()
    copies = [shelf_copy("reference"), shelf_copy(on_loan=True), free]
    chosen, _ = choose_copy(copies, POLICY.for_category("regular"), PATRON, None)
    assert chosen == free


def test_all_on_loan_means_no_copy_available() -> None:
    _, reasons = choose_copy(
        [shelf_copy(on_loan=True)] * 2, POLICY.for_category("regular"), PATRON, None
    )
    assert [r.code for r in reasons] == ["NO_COPY_AVAILABLE"]


def test_a_named_copy() -> None:
    named = shelf_copy(barcode="WANTED")
    chosen, _ = choose_copy([shelf_copy(), named], POLICY.for_category("regular"), PATRON, "WANTED")
    assert chosen == named
    with pytest.raises(CopyNotFound):
        choose_copy([named], POLICY.for_category("regular"), PATRON, "OTHER")


def test_checkout_snapshots_the_policy_on_the_loan() -> None:
    loan = checkout(
        book_id=uuid.uuid4(),
        copies=[shelf_copy()],
        standing=standing(category="premium"),
        barcode=None,
        now=MONDAY,
        actor="desk",
    )
    assert loan.terms.loan_period_days == 21 and loan.terms.renewals_allowed == 2
    assert str(loan.terms.fines.per_day) == "0.25" and str(loan.terms.fines.cap) == "5.00"
    assert loan.due_at.isoformat() == "2026-03-23T23:59:59+00:00"
    assert [e.name for e in loan.pending_events] == ["BookBorrowed"]


def test_staff_may_set_a_future_due_date_only() -> None:
    with pytest.raises(InvalidValue):
        checkout(
            book_id=uuid.uuid4(),
            copies=[shelf_copy()],
            standing=standing(),
            barcode=None,
            now=MONDAY,
            actor="desk",
            due_at=MONDAY,
        )


def test_a_copy_kept_for_another_patron_is_not_lent() -> None:
    kept = shelf_copy()
    kept = type(kept)(
        kept.copy_id, kept.barcode, "circulating", kept.replacement_cost, False, uuid.uuid4()
    )
    _, reasons = choose_copy([kept], POLICY.for_category("regular"), PATRON, None)
    assert [r.code for r in reasons] == ["COPY_HELD_FOR_ANOTHER_PATRON"]


def test_the_copy_kept_for_the_patron_is_the_one_they_get() -> None:
    free = shelf_copy()
    held = shelf_copy()
    held = type(held)(
        held.copy_id, held.barcode, "circulating", held.replacement_cost, False, PATRON
    )
    chosen, _ = choose_copy([free, held], POLICY.for_category("regular"), PATRON, None)
    assert chosen == held
