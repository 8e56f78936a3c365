import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from shelfmark.lending.domain.checkout import checkout
from shelfmark.lending.domain.errors import RenewalRefused
from shelfmark.lending.domain.model import Loan, LoanStatus
from shelfmark.seedwork.domain import InvalidValue, Reason
from tests.support.clock import MONDAY
from tests.unit.lending_builders import POLICY, shelf_copy, standing

CALENDAR = POLICY.library.calendar


def new_loan(category: str = "regular") -> Loan:
    loan = checkout(
        book_id=uuid.uuid4(),
        copies=[shelf_copy()],
        standing=standing(category=category),
        barcode=None,
        now=MONDAY,
        actor="desk",
    )
    loan.pull_events()
    return loan


def test_renew_adds_a_loan_period_to_the_due_date() -> None:
    loan = new_loan()
    loan.renew([], CALENDAR, MONDAY + timedelta(days=3), "desk")
    assert loan.due_at == datetime(2026, 3, 30, 23, 59, 59, tzinfo=UTC)
    assert loan.renewals_left == 1
    assert [e.name for e in loan.pull_events()] == ["LoanRenewed"]


def test_an_overdue_loan_renewed_to_a_future_date_is_active_again() -> None:
    loan = new_loan()
    late = loan.due_at + timedelta(days=2)
    assert loan.register_overdue(late, "system")
    loan.renew([], CALENDAR, late, "desk")
    assert loan.status is LoanStatus.ACTIVE and not loan.is_overdue(late)
    assert [e.name for e in loan.pull_events()] == ["LoanBecameOverdue", "LoanRenewed"]


def test_a_loan_still_overdue_after_its_renewal_is_registered_overdue_once() -> None:
    loan = new_loan()
    very_late = loan.due_at + timedelta(days=40)  # past the renewed due date too
    assert loan.register_overdue(very_late, "system")
    loan.renew([], CALENDAR, very_late, "desk")
    assert loan.due_at < very_late and loan.status is LoanStatus.OVERDUE
    assert not loan.register_overdue(very_late + timedelta(days=1), "system")
    assert [e.name for e in loan.pull_events()] == ["LoanBecameOverdue", "LoanRenewed"]


def test_the_third_renewal_of_a_regular_loan_is_refused() -> None:
    loan = new_loan()
    loan.renew([], CALENDAR, MONDAY, "desk")
    loan.renew([], CALENDAR, MONDAY, "desk")
    with pytest.raises(RenewalRefused) as refusal:
        loan.renew([], CALENDAR, MONDAY, "desk")
    assert [r.code for r in refusal.value.reasons] == ["RENEWAL_LIMIT_REACHED"]


def test_a_researcher_has_three_renewals() -> None:
    loan = new_loan("researcher")
    for _ in range(3):
        loan.renew([], CALENDAR, MONDAY, "desk")
    assert loan.renewals_left == 0


def test_renewal_refusal_lists_the_loans_and_the_patrons_reasons() -> None:
    loan = new_loan()
    loan.return_copy(MONDAY, CALENDAR, MONDAY, "desk")
    patron = [Reason("PATRON_SUSPENDED", "suspended")]
    with pytest.raises(RenewalRefused) as refusal:
        loan.renew(patron, CALENDAR, MONDAY, "desk")
    assert [r.code for r in refusal.value.reasons] == ["LOAN_ALREADY_RETURNED", "PATRON_SUSPENDED"]


def test_renewing_an_overdue_loan_first_assesses_the_fine_so_far() -> None:
    loan = new_loan()  # due Monday 16 March
    fine = loan.renew([], CALENDAR, datetime(2026, 3, 20, 10, tzinfo=UTC), "desk")
    assert str(fine) == "1.00"
    assert loan.due_at == datetime(2026, 3, 30, 23, 59, 59, tzinfo=UTC)
    # Returned on time after renewal: nothing more to pay.
    assert (
        str(
            loan.return_copy(
                datetime(2026, 3, 25, tzinfo=UTC),
                CALENDAR,
                datetime(2026, 3, 25, tzinfo=UTC),
                "desk",
            )
        )
        == "0.00"
    )
    assert str(loan.fine) == "1.00"


def test_the_cap_holds_over_renewal_and_return_together() -> None:
    loan = new_loan()
    first = loan.renew([], CALENDAR, datetime(2026, 4, 15, tzinfo=UTC), "desk")  # 30 days late
    assert str(first) == "5.00"
    much_later = datetime(2026, 6, 1, tzinfo=UTC)
    assert str(loan.return_copy(much_later, CALENDAR, much_later, "desk")) == "0.00"


def test_a_renewal_never_moves_the_due_date_earlier() -> None:
    loan = new_loan()
    loan.terms = replace(loan.terms, loan_period_days=1)
    before = loan.due_at
    loan.renew([], CALENDAR, MONDAY, "desk")
    assert loan.due_at >= before


def test_return_on_time_has_no_fine_and_closes_the_loan() -> None:
    loan = new_loan()
    fine = loan.return_copy(
        MONDAY + timedelta(days=5), CALENDAR, MONDAY + timedelta(days=5), "desk"
    )
    assert str(fine) == "0.00" and loan.status is LoanStatus.RETURNED and not loan.is_open
    assert [e.name for e in loan.pull_events()] == ["BookReturned"]


def test_returning_twice_is_a_harmless_no_op() -> None:
    loan = new_loan()
    late = datetime(2026, 3, 20, 10, tzinfo=UTC)
    loan.return_copy(late, CALENDAR, late, "desk")
    loan.pull_events()
    assert (
        str(loan.return_copy(late + timedelta(days=9), CALENDAR, late + timedelta(days=9), "desk"))
        == "0.00"
    )
    assert loan.returned_at == late and str(loan.fine) == "1.00"
    assert loan.pull_events() == []


def test_a_book_drop_return_may_be_backdated_but_not_before_the_loan_or_into_the_future() -> None:
    loan = new_loan()
    now = datetime(2026, 3, 20, 10, tzinfo=UTC)
    with pytest.raises(InvalidValue):
        loan.return_copy(now + timedelta(hours=1), CALENDAR, now, "desk")
    with pytest.raises(InvalidValue):
        loan.return_copy(MONDAY - timedelta(days=1), CALENDAR, now, "desk")
    fine = loan.return_copy(datetime(2026, 3, 16, 12, tzinfo=UTC), CALENDAR, now, "desk")
    assert str(fine) == "0.00"


def test_status_is_overdue_once_past_the_due_date() -> None:
    loan = new_loan()
    assert loan.status_at(loan.due_at) is LoanStatus.ACTIVE
    assert loan.status_at(loan.due_at + timedelta(seconds=1)) is LoanStatus.OVERDUE
