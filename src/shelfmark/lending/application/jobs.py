"""The daily jobs. Each loan or hold is handled in its own short transaction, and every step
changes state only once (an overdue loan is not registered twice), so running the jobs again
the same day changes nothing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from uuid import UUID

from shelfmark.lending.application.circulation import offer_freed_copy
from shelfmark.lending.application.ports import LendingUnitOfWork
from shelfmark.lending.domain.model import LoanStatus
from shelfmark.lending.domain.policies import LendingPolicy
from shelfmark.seedwork.application import with_retries

NewUnitOfWork = Callable[[], LendingUnitOfWork]
Step = Callable[[LendingUnitOfWork, UUID], Awaitable[bool]]

JOBS = ("register_overdue", "age_to_lost", "due_soon_notices", "expire_holds")


@dataclass
class DailyReport:
    changed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(JOBS, 0))


async def _each(new_uow: NewUnitOfWork, ids: list[UUID], step: Step) -> int:
    async def one(item: UUID) -> bool:
        async with new_uow() as uow:
            changed = await step(uow, item)
            await uow.commit()
        return changed

    changed = 0
    for item in ids:
        changed += await with_retries(partial(one, item))
    return changed


async def run_daily_jobs(
    new_uow: NewUnitOfWork, now: datetime, policy: LendingPolicy, actor: str = "daily-jobs"
) -> DailyReport:
    library = policy.library
    calendar = library.calendar
    report = DailyReport()

    async def candidates(before: datetime, status: LoanStatus | None = None) -> list[UUID]:
        async with new_uow() as uow:
            return await uow.loans.open_ids_due_before(before, status)

    async def register_overdue(uow: LendingUnitOfWork, loan_id: UUID) -> bool:
        loan = await uow.loans.get(loan_id)
        return loan is not None and loan.register_overdue(now, actor)

    async def age_to_lost(uow: LendingUnitOfWork, loan_id: UUID) -> bool:
        loan = await uow.loans.get(loan_id)
        if loan is None or not loan.age_to_lost(library.lost_after_days_overdue, now, actor):
            return False
        account = await uow.accounts.for_patron(loan.patron_id)
        account.charge_lost_item(
            loan.id, loan.replacement_cost, library.money("lost_processing_fee"), now, actor
        )
        return True

    async def due_soon(uow: LendingUnitOfWork, loan_id: UUID) -> bool:
        loan = await uow.loans.get(loan_id)
        return loan is not None and loan.notify_due_soon(
            library.due_soon_notice_days, calendar, now, actor
        )

    async def expire_hold(uow: LendingUnitOfWork, hold_id: UUID) -> bool:
        hold = await uow.holds.get(hold_id)
        if hold is None:
            return False
        await uow.copies.shelf_copies(hold.book_id)  # takes the title's turn first
        if not hold.is_expired(now):
            return False
        freed = hold.expire(now, actor)
        if freed is not None:
            await offer_freed_copy(uow, hold.book_id, freed, policy, now, actor)
        return True

    changed = report.changed
    changed["register_overdue"] = await _each(
        new_uow, await candidates(now, LoanStatus.ACTIVE), register_overdue
    )
    lost_before = now - timedelta(days=library.lost_after_days_overdue)
    changed["age_to_lost"] = await _each(new_uow, await candidates(lost_before), age_to_lost)
    notice_before = now + timedelta(days=library.due_soon_notice_days + 1)
    changed["due_soon_notices"] = await _each(
        new_uow, await candidates(notice_before, LoanStatus.ACTIVE), due_soon
    )
    async with new_uow() as uow:
        expiring = await uow.holds.expiring_ids(now)
    changed["expire_holds"] = await _each(new_uow, expiring, expire_hold)
    return report
