"""The FeeAccount aggregate: a patron's append-only ledger of charges and credits."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from shelfmark.lending.domain.errors import PaymentRefused
from shelfmark.lending.domain.events import FineAssessed, PaymentReceived
from shelfmark.seedwork.domain import AggregateRoot, InvalidValue, Reason
from shelfmark.seedwork.money import Money


class EntryKind(StrEnum):
    OVERDUE_FINE = "overdue_fine"
    LOST_ITEM = "lost_item"
    PROCESSING_FEE = "processing_fee"
    PAYMENT = "payment"
    WAIVER = "waiver"
    REFUND = "refund"

    @property
    def is_charge(self) -> bool:
        return self in (EntryKind.OVERDUE_FINE, EntryKind.LOST_ITEM, EntryKind.PROCESSING_FEE)


@dataclass(frozen=True)
class LedgerEntry:
    id: uuid.UUID
    kind: EntryKind
    amount: Money
    at: datetime
    loan_id: uuid.UUID | None = None

    @property
    def signed(self) -> Money:
        return self.amount if self.kind.is_charge else Money(-self.amount.cents)


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

    def receive_payment(self, amount: Money, now: datetime, actor: str) -> LedgerEntry:
        """A payment is above zero and never more than the balance."""
        if not amount.is_positive():
            raise InvalidValue("amount", "a payment must be above zero")
        if amount > self.balance:
            raise PaymentRefused(
                [
                    Reason(
                        "PAYMENT_EXCEEDS_BALANCE",
                        f"the balance is {self.balance}; {amount} is more",
                    )
                ]
            )
        entry = self._append(EntryKind.PAYMENT, amount, now, None)
        self.record(
            PaymentReceived(aggregate_id=self.id, occurred_at=now, actor=actor, amount=amount)
        )
        return entry
