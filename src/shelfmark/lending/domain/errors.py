"""Lending errors. Refusals carry every failing reason at once."""

from shelfmark.seedwork.domain import NotFound, RulesViolated


class LoanNotFound(NotFound):
    code = "LOAN_NOT_FOUND"


class BorrowingRefused(RulesViolated):
    code = "BORROWING_REFUSED"


class RenewalRefused(RulesViolated):
    code = "RENEWAL_REFUSED"


class PaymentRefused(RulesViolated):
    code = "PAYMENT_REFUSED"


class CopyNotFound(NotFound):
    code = "COPY_NOT_FOUND"


class BookNotFound(NotFound):
    code = "BOOK_NOT_FOUND"


class PatronNotFound(NotFound):
    code = "PATRON_NOT_FOUND"


class HoldNotFound(NotFound):
    code = "HOLD_NOT_FOUND"


class HoldRefused(RulesViolated):
    code = "HOLD_REFUSED"


class HoldNotActive(RulesViolated):
    code = "HOLD_NOT_ACTIVE"
