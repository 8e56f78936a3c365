"""The events lending publishes to other contexts."""

from shelfmark.lending.domain.events import (
    BookBorrowed,
    BookReturned,
    FineAssessed,
    HoldReadyForPickup,
    LoanBecameOverdue,
    LoanFallingDue,
    LoanRenewed,
    PaymentReceived,
)

__all__ = [
    "BookBorrowed",
    "BookReturned",
    "FineAssessed",
    "HoldReadyForPickup",
    "LoanBecameOverdue",
    "LoanFallingDue",
    "LoanRenewed",
    "PaymentReceived",
]
