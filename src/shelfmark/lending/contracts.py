"""The events lending publishes to other contexts."""

from shelfmark.lending.domain.events import (
    BookBorrowed,
    BookReturned,
    FineAssessed,
    LoanRenewed,
    PaymentReceived,
)

__all__ = ["BookBorrowed", "BookReturned", "FineAssessed", "LoanRenewed", "PaymentReceived"]
