"""The FeeAccount aggregate: a patron's append-only ledger of charges and credits.

A negative balance is a credit: the library owes the patron. It arises only from a refund (a
lost copy that came back after its charges were paid); later charges use it up, and staff can
pay it out (`pay_out`). Payments and waivers never go past zero, so a credit is never more
than was refunded and not paid out."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from shelfmark.lending.domain.errors import PaymentRefused
from shelfmark.lending.domain.events import (
    CreditPaidOut,
    FeeRefunded,
    FeeWaived,
    FineAssessed,
    LostItemCharged,
    PaymentReceived,
)
from shelfmark.seedwork.domain import AggregateRoot, InvalidValue, Reason
from shelfmark.seedwork.money import Money
from shelfmark.seedwork.text import collapsed_text

MAX_WAIVER_REASON = 500


class EntryKind(StrEnum):
    OVERDUE_FINE = "overdue_fine"
    LOST_ITEM = "lost_item"
    PROCESSING_FEE = "processing_fee"
    PAYMENT = "payment"
    WAIVER = "waiver"
    REFUND = "refund"
    PAYOUT = "payout"  # money handed back to the patron out of a credit

    @property
    def is_charge(self) -> bool:
        return self in (EntryKind.OVERDUE_FINE, EntryKind.LOST_ITEM, EntryKind.PROCESSING_FEE)

    @property
    def is_debit(self) -> bool:
        """Raises the balance: a charge, or a payout that uses up a credit."""
        return self.is_charge or self is EntryKind.PAYOUT


@dataclass(frozen=True)
class LedgerEntry:
    id: uuid.UUID
    kind: EntryKind
    amount: Money
    at: datetime
    loan_id: uuid.UUID | None = None

    @property
    def signed(self) -> Money:
        return self.amount if self.kind.is_debit else Money(-self.amount.cents)


class FeeAccount(AggregateRoot):
    """One per patron (its id is the patron's). Balance = charges - credits."""

    def __init__(self, patron_id: uuid.UUID, entries: list[LedgerEntry] | None = None) -> None:
        super().__init__()
        self.id = patron_id
        self.entries = entries or []

    @property
    def balance(self) -> Money:
        return sum((e.signed for e in self.entries), Money.zero())

    def _append(
        self, kind: EntryKind, amount: Money, at: datetime, loan_id: uuid.UUID | None
    ) -> LedgerEntry:
        entry = LedgerEntry(uuid.uuid4(), kind, amount, at, loan_id)
        self.entries.append(entry)
        return entry

    def assess_fine(self, loan_id: uuid.UUID, amount: Money, now: datetime, actor: str) -> None:
        """Charges an overdue fine; a zero fine leaves no trace."""
        if not amount.is_positive():
            return
        self._append(EntryKind.OVERDUE_FINE, amount, now, loan_id)
        self.record(
            FineAssessed(
                aggregate_id=self.id, occurred_at=now, actor=actor, loan_id=loan_id, amount=amount
            )
        )

    def charge_lost_item(
        self, loan_id: uuid.UUID, replacement: Money, processing: Money, now: datetime, actor: str
    ) -> None:
        self._append(EntryKind.LOST_ITEM, replacement, now, loan_id)
        if processing.is_positive():
            self._append(EntryKind.PROCESSING_FEE, processing, now, loan_id)
        self.record(
            LostItemCharged(
                aggregate_id=self.id,
                occurred_at=now,
                actor=actor,
                loan_id=loan_id,
                replacement_cost=replacement,
                processing_fee=processing,
            )
        )

    def refund(self, loan_id: uuid.UUID, amount: Money, now: datetime, actor: str) -> None:
        """Gives back the replacement cost of a lost copy that came back in time."""
        if not amount.is_positive():
            return
        self._append(EntryKind.REFUND, amount, now, loan_id)
        self.record(
            FeeRefunded(
                aggregate_id=self.id, occurred_at=now, actor=actor, loan_id=loan_id, amount=amount
            )
        )

    def waive(self, amount: Money, reason: str, now: datetime, actor: str) -> LedgerEntry:
        """Staff forgive part or all of the balance, with a reason; never more than is owed."""
        reason = collapsed_text(reason, "reason", MAX_WAIVER_REASON)
        self._check_credit(amount, "a waiver")
        entry = self._append(EntryKind.WAIVER, amount, now, None)
        self.record(
            FeeWaived(
                aggregate_id=self.id, occurred_at=now, actor=actor, amount=amount, reason=reason
            )
        )
        return entry

    def pay_out(self, amount: Money, now: datetime, actor: str) -> LedgerEntry:
        """Staff hand back part or all of a credit; never more than the library owes."""
        if not amount.is_positive():
            raise InvalidValue("amount", "a payout must be above zero")
        credit = Money(max(0, -self.balance.cents))
        if amount > credit:
            raise PaymentRefused(
                [Reason("PAYOUT_EXCEEDS_CREDIT", f"the credit is {credit}; {amount} is more")]
            )
        entry = self._append(EntryKind.PAYOUT, amount, now, None)
        self.record(
            CreditPaidOut(aggregate_id=self.id, occurred_at=now, actor=actor, amount=amount)
        )
        return entry

    def _check_credit(self, amount: Money, what: str) -> None:
        """A payment or a waiver is above zero and never more than the balance."""
        if not amount.is_positive():
            raise InvalidValue("amount", f"{what} must be above zero")
        if amount > self.balance:
            raise PaymentRefused(
                [
                    Reason(
                        "PAYMENT_EXCEEDS_BALANCE",
                        f"the balance is {self.balance}; {amount} is more",
                    )
                ]
            )

    def receive_payment(self, amount: Money, now: datetime, actor: str) -> LedgerEntry:
        """A payment is above zero and never more than the balance."""
        self._check_credit(amount, "a payment")
        entry = self._append(EntryKind.PAYMENT, amount, now, None)
        self.record(
            PaymentReceived(aggregate_id=self.id, occurred_at=now, actor=actor, amount=amount)
        )
        return entry
