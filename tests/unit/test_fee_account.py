import uuid

import pytest

from shelfmark.lending.domain.errors import PaymentRefused
from shelfmark.lending.domain.fees import EntryKind, FeeAccount
from shelfmark.seedwork.domain import InvalidValue
from shelfmark.seedwork.money import Money
from tests.support.clock import MONDAY


def test_balance_is_charges_minus_credits() -> None:
    account = FeeAccount(uuid.uuid4())
    account.assess_fine(uuid.uuid4(), Money(150), MONDAY, "desk")
    account.assess_fine(uuid.uuid4(), Money(100), MONDAY, "desk")
    account.receive_payment(Money(200), MONDAY, "desk")
    assert account.balance == Money(50)
    assert [e.kind for e in account.entries] == [
        EntryKind.OVERDUE_FINE,
        EntryKind.OVERDUE_FINE,
        EntryKind.PAYMENT,
    ]
    assert [e.name for e in account.pending_events] == [
        "FineAssessed",
        "FineAssessed",
        "PaymentReceived",
    ]


def test_a_zero_fine_leaves_no_trace() -> None:
    account = FeeAccount(uuid.uuid4())
    account.assess_fine(uuid.uuid4(), Money(0), MONDAY, "desk")
    assert account.entries == [] and account.pending_events == ()


def test_a_payment_never_exceeds_the_balance() -> None:
    account = FeeAccount(uuid.uuid4())
    account.assess_fine(uuid.uuid4(), Money(100), MONDAY, "desk")
    with pytest.raises(PaymentRefused) as refusal:
        account.receive_payment(Money(101), MONDAY, "desk")
    assert [r.code for r in refusal.value.reasons] == ["PAYMENT_EXCEEDS_BALANCE"]
    account.receive_payment(Money(100), MONDAY, "desk")
    assert account.balance == Money(0)


def test_a_payment_is_above_zero() -> None:
    with pytest.raises(InvalidValue):
        FeeAccount(uuid.uuid4()).receive_payment(Money(0), MONDAY, "desk")


def credited(cents: int) -> FeeAccount:
    """An account the library owes `cents`: a lost copy charged, paid for, then refunded."""
    account = FeeAccount(uuid.uuid4())
    loan = uuid.uuid4()
    account.charge_lost_item(loan, Money(cents), Money(500), MONDAY, "system")
    account.receive_payment(Money(cents + 500), MONDAY, "desk")
    account.refund(loan, Money(cents), MONDAY, "desk")
    return account


def test_a_refund_of_a_paid_charge_leaves_a_credit_that_later_charges_use() -> None:
    account = credited(2500)
    assert account.balance == Money(-2500)
    account.assess_fine(uuid.uuid4(), Money(125), MONDAY, "desk")
    assert account.balance == Money(-2375)


def test_a_payout_hands_back_a_credit_and_never_more() -> None:
    account = credited(2500)
    with pytest.raises(PaymentRefused) as refusal:
        account.pay_out(Money(2501), MONDAY, "desk")
    assert [r.code for r in refusal.value.reasons] == ["PAYOUT_EXCEEDS_CREDIT"]
    entry = account.pay_out(Money(2500), MONDAY, "desk")
    assert entry.kind is EntryKind.PAYOUT and account.balance == Money.zero()
    assert account.pending_events[-1].name == "CreditPaidOut"
    with pytest.raises(PaymentRefused):
        account.pay_out(Money(1), MONDAY, "desk")


def test_nothing_is_paid_out_of_an_account_that_owes() -> None:
    account = FeeAccount(uuid.uuid4())
    account.assess_fine(uuid.uuid4(), Money(100), MONDAY, "desk")
    with pytest.raises(PaymentRefused):
        account.pay_out(Money(1), MONDAY, "desk")
    with pytest.raises(InvalidValue):
        account.pay_out(Money(0), MONDAY, "desk")
