"""Query handlers that combine reads with the domain's rules."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from shelfmark.lending.application.ports import LoanReader
from shelfmark.lending.application.queries import BorrowerSummary, LoanFilter
from shelfmark.lending.domain.policies import LendingPolicy
from shelfmark.lending.domain.rules import BORROWING_RULES, Standing, failing
from shelfmark.seedwork.pagination import PageRequest

OPEN_LOANS_SHOWN = 200


async def borrower_summary(
    reader: LoanReader, patron_id: UUID, policy: LendingPolicy, now: datetime
) -> BorrowerSummary | None:
    """Open loans, balance, and every rule that would refuse this patron a loan right now."""
    found = await reader.borrower(patron_id, now)
    if found is None:
        return None
    borrower, record = found
    standing = Standing(borrower, record, policy, policy.library.calendar.local_date(now))
    loans = await reader.list(
        LoanFilter(patron_id=patron_id, status="open"), PageRequest(OPEN_LOANS_SHOWN), now
    )
    holds = await reader.holds_of_patron(patron_id, active_only=True)
    return BorrowerSummary(loans.items, holds, record.balance, failing(BORROWING_RULES, standing))
