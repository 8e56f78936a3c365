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
