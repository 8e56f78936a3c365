"""Steps several lending handlers share: a freed copy goes to the next hold in line."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from shelfmark.lending.application.ports import LendingUnitOfWork
from shelfmark.lending.domain.holds import Hold
from shelfmark.lending.domain.policies import LendingPolicy
from shelfmark.lending.domain.queue import next_in_line


async def offer_freed_copy(
    uow: LendingUnitOfWork,
    book_id: UUID,
    copy_id: UUID,
    policy: LendingPolicy,
    now: datetime,
    actor: str,
) -> Hold | None:
    """Keeps the copy for the first waiting hold it may fill (same transaction as what freed
    it); with none, the copy simply goes back on the shelf."""
    copies = await uow.copies.shelf_copies(book_id) or []
    copy = next((c for c in copies if c.copy_id == copy_id), None)
    if copy is None:
        return None
    hold = next_in_line(await uow.holds.waiting_for_book(book_id), copy)
    if hold is not None:
        library = policy.library
        hold.make_ready(copy_id, library.calendar, library.pickup_window_days, now, actor)
    return hold


async def offer_new_copy(
    uow: LendingUnitOfWork,
    book_id: UUID,
    copy_id: UUID,
    policy: LendingPolicy,
    now: datetime,
    actor: str,
) -> Hold | None:
    """A copy new to the shelf goes to the first waiting hold it may fill, as a returned copy
    does; a copy already lent or kept meanwhile is left alone."""
    copies = await uow.copies.shelf_copies(book_id) or []
    if not any(c.copy_id == copy_id and c.on_shelf for c in copies):
        return None
    return await offer_freed_copy(uow, book_id, copy_id, policy, now, actor)
